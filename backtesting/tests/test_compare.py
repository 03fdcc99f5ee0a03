"""Comparing up to four runs side by side: access, metrics columns and the overlaid curves' data."""

import json
import re

import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from backtesting.factories import BacktestRunFactory
from backtesting.models import RunStatus
from backtesting.tests.page_checks import assert_no_inline_script

COMPARE = reverse("backtesting:compare")


def finished(owner, sharpe, system="trend_ma"):
    """A succeeded run with a small stored result (what the page reads)."""
    full = {"sharpe": sharpe, "total_return": 0.5, "trade_win_rate": 0.6, "win_rate": 0.52}
    return BacktestRunFactory(
        owner=owner,
        system=system,
        status=RunStatus.SUCCEEDED,
        results={
            "metrics": {"strategy": {"full": full}},
            "period": {"start": "2019-01-02", "end": "2021-12-31"},
            "selected": {"parameters": {"fast": 10}},
        },
        equity_curve={"dates": ["2019-01-02", "2019-01-03"], "strategy": [1.0, 1.01 + sharpe / 100]},
    )


def compare_data(html):
    return json.loads(re.search(r'<script id="compare-data" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_anonymous_visitors_are_sent_to_sign_in(client, alice):
    run = finished(alice, 1.0)
    response = client.get(COMPARE, {"runs": [run.pk]})
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_owner_sees_each_run_as_a_column_and_every_curve(client, alice):
    runs = [finished(alice, s, system) for s, system in ((0.5, "trend_ma"), (1.2, "ml"), (0.9, "engine"))]
    client.force_login(alice)
    response = client.get(COMPARE, {"runs": [r.pk for r in runs]})
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_inline_script(html)
    assert 'src="/static/backtesting/compare.js"' in html
    sharpe_row = re.search(r'<tr data-metric="sharpe">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', sharpe_row) == ["0.50", "1.20", "0.90"]
    assert 'data-metric="trade_win_rate"' in html and "per closed trade" in html
    curves = compare_data(html)["curves"]
    assert [c["label"] for c in curves] == [
        f"#{runs[0].pk} Trend: moving-average crossover",
        f"#{runs[1].pk} Machine-learning signals (walk-forward)",
        f"#{runs[2].pk} The QuantAI engine replayed",
    ]
    assert curves[1]["values"] == [1.0, 1.022]


def test_another_investors_run_is_404_even_beside_your_own(client, alice, bob):
    mine, theirs = finished(alice, 1.0), finished(bob, 2.0)
    client.force_login(alice)
    assert client.get(COMPARE, {"runs": [mine.pk, theirs.pk]}).status_code == 404
    assert client.get(COMPARE, {"runs": ["abc"]}).status_code == 404


def test_staff_may_compare_anyones_runs(client, alice, bob):
    runs = [finished(alice, 1.0), finished(bob, 2.0)]
    client.force_login(UserFactory(username="operator", is_staff=True))
    response = client.get(COMPARE, {"runs": [r.pk for r in runs]})
    assert response.status_code == 200 and len(compare_data(response.content.decode())["curves"]) == 2


def test_more_than_four_runs_is_refused_with_a_message(client, alice):
    runs = [finished(alice, 0.1 * i) for i in range(5)]
    client.force_login(alice)
    response = client.get(COMPARE, {"runs": [r.pk for r in runs]})
    assert response.status_code == 400 and "at most 4 runs" in response.content.decode()


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.FAILED])
def test_an_unfinished_run_gets_a_column_of_dashes_and_no_curve(client, alice, status):
    done = finished(alice, 1.0)
    waiting = BacktestRunFactory(owner=alice, status=status)
    client.force_login(alice)
    html = client.get(COMPARE, {"runs": [done.pk, waiting.pk]}).content.decode()
    assert len(compare_data(html)["curves"]) == 1
    sharpe_row = re.search(r'<tr data-metric="sharpe">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', sharpe_row) == ["1.00", "\u2013"]


def test_without_a_choice_the_page_offers_your_finished_runs(client, alice, bob):
    mine = finished(alice, 1.0)
    finished(bob, 2.0)
    BacktestRunFactory(owner=alice, status=RunStatus.QUEUED)
    client.force_login(alice)
    html = client.get(COMPARE).content.decode()
    assert re.findall(r'name="runs" value="(\d+)"', html) == [str(mine.pk)]
    assert 'id="compare-chart"' not in html


def test_the_lab_lets_you_pick_finished_runs_to_compare(client, alice):
    mine = finished(alice, 1.0)
    BacktestRunFactory(owner=alice, status=RunStatus.RUNNING)
    client.force_login(alice)
    html = client.get(reverse("backtesting:lab")).content.decode()
    assert f'action="{COMPARE}"' in html
    assert re.findall(r'class="compare-pick" name="runs" value="(\d+)"', html) == [str(mine.pk)]
