import json
import re

import pytest
from django.urls import reverse

from backtesting import services
from backtesting.factories import BacktestRunFactory, owned_backtest_run_id
from backtesting.models import BacktestRun, RunStatus
from backtesting.tests.page_checks import assert_no_inline_script
from quantai.tests import url_access


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_lab_page_shows_the_form_the_hindsight_note_and_the_users_runs(signed_in, alice, bob):
    mine = BacktestRunFactory(owner=alice, status=RunStatus.RUNNING, progress=40)
    BacktestRunFactory(owner=bob)
    response = signed_in.get(reverse("backtesting:lab"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_inline_script(html)
    assert 'src="/static/js/backtesting.js"' in html
    assert "survivorship bias" in html and "SPY, bought and held, is the honest benchmark" in html
    assert f'data-run-id="{mine.pk}"' in html and 'value="40"' in html
    assert len(re.findall(r"<tr data-run-id=", html)) == 1  # bob's run is not listed
    for system in ("buy_and_hold", "trend_ma", "trend_tsmom", "mean_reversion_rsi", "mean_reversion_bollinger"):
        assert f'data-system="{system}"' in html


def test_submitting_the_form_starts_a_run_and_opens_its_page(signed_in, market, alice, django_capture_on_commit_callbacks):
    form = {
        "system": "trend_ma",
        "trend_ma__fast": "10,20",
        "trend_ma__slow": "60",
        "start": "2019-06-03",
        "end": "",
        "split_date": "",
        "commission_bps": "1",
        "slippage_bps": "2",
        "execution": "next_close",
        "seed": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("backtesting:lab"), form)
    run = BacktestRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("backtesting:run", args=[run.pk])
    assert run.owner == alice and run.parameters["fast"] == [10, 20] and run.execution == "next_close"
    page = signed_in.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and run.status != "failed"
    assert_no_inline_script(html)
    data = json.loads(re.search(r'<script id="backtest-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert len(data["curve"]["dates"]) == len(data["curve"]["strategy"]) > 100
    assert "lightweight-charts-5.2.1.standalone.production.js" in html and "https://www.tradingview.com/" in html
    assert 'data-metric="sharpe"' in html and 'data-metric="oos-sharpe"' in html
    assert "Permutation test p =" in html and "Probability of backtest overfitting" in html
    assert "survivorship bias" in html


def test_form_errors_from_the_service_are_shown_next_to_the_fields(signed_in, market):
    response = signed_in.post(
        reverse("backtesting:lab"),
        {
            "system": "trend_ma",
            "trend_ma__fast": "90",
            "trend_ma__slow": "30",
            "commission_bps": "1",
            "slippage_bps": "2",
            "execution": "next_open",
            "seed": "0",
            "start": "2021-06-01",
            "end": "2021-01-01",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "trend_ma__fast" in form.errors and "end" in form.errors
    assert "shorter than the slow window" in response.content.decode()
    assert not BacktestRun.objects.exists()


def test_a_period_without_data_is_a_form_wide_error(signed_in, db):
    response = signed_in.post(
        reverse("backtesting:lab"),
        {"system": "buy_and_hold", "commission_bps": "1", "slippage_bps": "2", "execution": "next_open", "seed": "0"},
    )
    assert response.status_code == 400
    errors = " ".join(response.context["form"].non_field_errors())
    assert "no prices are stored yet" in errors and "a backtest needs at least one session in its period" in errors


def test_a_queued_run_shows_its_progress_and_a_failed_run_its_error(signed_in, alice):
    queued = BacktestRunFactory(owner=alice, status=RunStatus.QUEUED, progress=0)
    html = signed_in.get(reverse("backtesting:run", args=[queued.pk])).content.decode()
    assert 'id="run-progress"' in html and f'data-run-id="{queued.pk}"' in html and 'data-status="queued"' in html
    assert_no_inline_script(html)
    failed = BacktestRunFactory(owner=alice, status=RunStatus.FAILED, error="There are only 12 trading days <b>")
    html = signed_in.get(reverse("backtesting:run", args=[failed.pk])).content.decode()
    assert "There are only 12 trading days &lt;b&gt;" in html


def test_another_investors_run_page_is_404(signed_in, bob):
    assert signed_in.get(reverse("backtesting:run", args=[BacktestRunFactory(owner=bob).pk])).status_code == 404


def test_the_pages_need_a_signed_in_user(client):
    response = client.get(reverse("backtesting:lab"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.usefixtures("one_rate_window")
def test_the_page_form_is_rate_limited(signed_in, market, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "backtest": "1/m"}
    form = {"system": "buy_and_hold", "commission_bps": "1", "slippage_bps": "2", "execution": "next_open", "seed": "0"}
    assert signed_in.post(reverse("backtesting:lab"), form).status_code == 302
    assert signed_in.post(reverse("backtesting:lab"), form).status_code == 429
    assert BacktestRun.objects.count() == 1


def test_run_ids_are_in_the_url_access_harness():
    assert url_access.OWNED_OBJECT.get("run_id", owned_backtest_run_id) is owned_backtest_run_id
    routes = {r.name for r in url_access.routes()}
    assert {
        "backtests-api:runs",
        "backtests-api:run",
        "backtests-api:systems",
        "backtesting:lab",
        "backtesting:run",
        "backtesting:compare",
    } <= routes


@pytest.mark.django_db
@pytest.mark.parametrize(
    "problems",
    [url_access.anonymous_access_problems, url_access.cross_user_problems, url_access.server_error_problems],
    ids=lambda f: f.__name__,
)
def test_the_projects_access_checks_pass_with_the_backtesting_routes(problems, client, django_user_model):
    # Only this app's routes: other apps' routes are the project harness's own business.
    ours = [r for r in url_access.routes() if r.name.startswith(("backtests-api:", "backtesting:"))]
    assert len(ours) == 6
    found = problems(client, django_user_model, ours, owned={**url_access.OWNED_OBJECT, "run_id": owned_backtest_run_id})
    assert found == []


def test_services_are_what_the_page_calls(signed_in, market, alice, monkeypatch):
    calls = []
    real = services.backtest_create
    monkeypatch.setattr(services, "backtest_create", lambda **kw: calls.append(kw) or real(enqueue=False, **kw))
    form = {
        "system": "mean_reversion_bollinger",
        "mean_reversion_bollinger__k": "1.5,2",
        "commission_bps": "0",
        "slippage_bps": "0",
        "execution": "next_open",
        "seed": "9",
    }
    signed_in.post(reverse("backtesting:lab"), form)
    assert calls[0]["params"] == {"window": 20, "k": [1.5, 2], "allow_short": False} or calls[0]["params"]["k"] == [1.5, 2]
    assert calls[0]["seed"] == 9 and calls[0]["user"] == alice
