"""The ml and engine systems through the lab: stored runs, progress per retrain, the command, the run page."""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from backtesting import services
from backtesting.models import BacktestRun, RunStatus
from backtesting.report import validation_verdicts
from quantai.errors import ValidationFailed

#: Small and quick on the three-year test market: a model every half year, the first after a year.
FAST = {"min_train_days": 252, "retrain_every": 126}


def run_now(user, progress=None, **request):
    run = services.backtest_create(user=user, enqueue=False, **request)
    return services.backtest_run(run_id=run.pk, progress=progress)


def test_an_ml_run_reports_its_models_and_a_progress_step_per_retrain(market, alice):
    seen = []
    run = run_now(alice, progress=lambda p, s: seen.append((p, s)), system="ml", params={**FAST, "threshold": [0.5, 0.55]})
    assert run.status == RunStatus.SUCCEEDED, run.error
    info = run.results["model"]["walk_forward"]
    n_models = len(range(252, run.results["period"]["days"], 126))
    assert info["model"] == "rf" and info["models_fitted"] == n_models == len(info["retrains"]) >= 4
    assert all(r["label_end"] < r["date"] for r in info["retrains"])
    stages = [s for _, s in seen if s.startswith("model ")]
    assert stages == [f"model {k} of {n_models} fitted ({r['date']})" for k, r in enumerate(info["retrains"], start=1)]
    percents = [p for p, _ in seen]
    assert percents == sorted(percents)
    assert run.results["parameter_sets"] == 2
    full = run.results["metrics"]["strategy"]["full"]
    assert full["trades"] is not None and full["trades"] > 0
    assert 0 <= full["trade_win_rate"] <= 1
    # No position before the first model's first prediction.
    first = info["first_prediction"]
    dates, values = run.equity_curve["dates"], run.equity_curve["strategy"]
    assert all(v == pytest.approx(1.0) for d, v in zip(dates, values, strict=True) if d <= first)


def test_an_engine_run_replays_the_chosen_profile(client, market, alice):
    run = run_now(alice, system="engine", params={**FAST, "profile": ["Conservative", "Aggressive"], "stop_loss": 0.1})
    assert run.status == RunStatus.SUCCEEDED, run.error
    orders = run.results["model"]["orders_filled"]
    assert set(orders) == {"BUY", "SELL", "SHORT", "COVER"} and len(orders["BUY"]) == 2
    assert orders["SHORT"] == [0, 0] and orders["SELL"][0] > 0  # the policy is long only; trims and exits are sales
    assert {row["parameters"]["profile"] for row in run.results["sweep"]} == {"Conservative", "Aggressive"}
    exposure = run.results["metrics"]["strategy"]["full"]["exposure"]
    assert 0 < exposure < 1.5
    client.force_login(alice)
    html = client.get(reverse("backtesting:run", args=[run.pk])).content.decode()
    pick = run.results["selected"]["index"]
    assert f"Orders filled: BUY {orders['BUY'][pick]}, SELL {orders['SELL'][pick]}" in html
    assert f"its profile is {run.results['selected']['parameters']['profile']}" in html


def test_too_little_history_for_the_first_model_is_refused_saying_what_is_needed_and_what_there_is(market, alice):
    with pytest.raises(ValidationFailed) as caught:
        services.backtest_create(user=alice, system="ml", params={"min_train_days": 2000}, start="2021-01-04")
    (message,) = caught.value.fields["period"]
    assert "needs 2,000 sessions of history" in message
    assert "there are 757 (505 before 2021-01-04 and 252 in the period)" in message
    assert not BacktestRun.objects.exists()


def command(*args):
    out = StringIO()
    call_command("run_backtest", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("alias", "system"), [("trend", "trend_ma"), ("mean_reversion", "mean_reversion_rsi")])
def test_the_command_takes_the_issues_system_names(market, tmp_path, alias, system):
    target = tmp_path / "out.json"
    out = command("--system", alias, "--json", str(target))
    assert out.startswith(system)
    assert json.loads(target.read_text())["results"]["system"] == system


def test_the_command_runs_the_engine_with_json_params_and_a_period(market, tmp_path):
    target = tmp_path / "engine.json"
    out = command(
        "--system",
        "engine",
        "--params",
        json.dumps({**FAST, "profile": "Moderate"}),
        "--start",
        "2019-01-02",
        "--end",
        "2021-12-31",
        "--json",
        str(target),
    )
    assert "Win rate (per closed trade)" in out and "Win rate (days with a return)" in out
    body = json.loads(target.read_text())
    assert body["results"]["selected"]["parameters"]["profile"] == "Moderate"
    assert body["results"]["monthly_returns"]["strategy"][0]["year"] == 2019
    assert not BacktestRun.objects.exists()


def test_the_command_reads_several_price_directories(shared_prices_dir, tmp_path, db):
    # The same history split across two directories (an old and a recent part) gives the same numbers.
    old, recent = tmp_path / "old", tmp_path / "recent"
    old.mkdir(), recent.mkdir()
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY"):
        lines = (shared_prices_dir / f"{symbol}.csv").read_text().splitlines()
        header, rows = lines[0], lines[1:]
        half = len(rows) // 2
        (old / f"{symbol}.csv").write_text("\n".join([header, *rows[: half + 5]]) + "\n")
        (recent / f"{symbol}.csv").write_text("\n".join([header, *rows[half:]]) + "\n")
    args = ("--system", "trend", "--start", "2015-01-02")
    together = command(*args, "--prices", str(shared_prices_dir))
    split = command(*args, "--prices", str(old), str(recent))
    assert split == together


def test_the_run_page_shows_the_monthly_heat_map_and_the_models(client, market, alice):
    run = run_now(alice, system="ml", params=FAST)
    client.force_login(alice)
    html = client.get(reverse("backtesting:run", args=[run.pk])).content.decode()
    assert 'id="heatmap"' in html and 'data-year="2019"' in html and 'data-year="2021"' in html
    cells = re.findall(r'<td class="(hm-[a-z]+(?:-\d)?)"', html)
    assert len(cells) == 36 and {c.split("-")[1] for c in cells} >= {"up", "down"}
    assert f"{run.results['model']['walk_forward']['models_fitted']} rf models fitted walk-forward" in html
    assert 'href="/static/backtesting/backtesting.css"' in html
    assert "Win rate (per closed trade)" in html and 'data-metric="trade_profit_factor"' in html


def test_the_lab_form_starts_an_engine_run_for_a_profile(client, market, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    page = client.get(reverse("backtesting:lab")).content.decode()
    assert 'data-system="ml"' in page and 'data-system="engine"' in page
    form = {
        "system": "engine",
        "engine__profile": "Aggressive",
        "engine__stop_loss": "0.05,0.1",
        "engine__model": "xgb",
        "engine__retrain_every": "126",
        "engine__min_train_days": "252",
        "commission_bps": "1",
        "slippage_bps": "2",
        "execution": "next_open",
        "seed": "0",
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("backtesting:lab"), form)
    assert response.status_code == 302 and len(callbacks) == 1
    run = BacktestRun.objects.get()
    assert run.system == "engine" and run.parameters["profile"] == ["Aggressive"]
    assert run.parameters["stop_loss"] == [0.05, 0.1] and run.parameters["model"] == ["xgb"]


#: The test market runs 2019-01-02 .. 2021-12-31: 505 sessions before 2021, 252 in it.
LAST_YEAR = "2021-01-04"


def test_the_last_year_is_evaluated_with_a_first_model_trained_on_every_session_before_it(client, market, alice):
    # The default first model needs 504 sessions: 2021 alone has 252, but 505 come before it.
    run = run_now(alice, system="ml", params={"retrain_every": 126, "threshold": 0.5}, start=LAST_YEAR)
    assert run.status == RunStatus.SUCCEEDED, run.error
    results = run.results
    assert (results["period"]["start"], results["period"]["days"]) == (LAST_YEAR, 252)
    first = results["history"]["first_model"]
    assert (first["history_sessions"], first["history_start"], first["date"]) == (505, "2019-01-02", "2020-12-31")
    assert first["label_end"] < "2020-12-31"
    assert results["model"]["walk_forward"]["first_prediction"] == "2020-12-31"
    # Metrics and charts cover 2021: the curve starts at 1 at the last close of 2020.
    assert [m["year"] for m in results["monthly_returns"]["strategy"]] == [2021]
    assert run.equity_curve["dates"][:2] == ["2020-12-31", LAST_YEAR] and run.equity_curve["strategy"][0] == 1.0
    summary = "First model trained on 505 sessions, 2019-01-02 to 2020-12-31"
    client.force_login(alice)
    page = client.get(reverse("backtesting:run", args=[run.pk])).content.decode()
    assert summary in page and "Indicators warmed up on 505 sessions before the period (from 2019-01-02)" in page
    assert "Returns are measured from the close of 2020-12-31" in page
    lab = client.get(reverse("backtesting:lab")).content.decode()
    assert "first model: 505 sessions" in lab
    body = client.get(f"/api/backtests/{run.pk}").json()
    assert body["history"]["first_model"]["history_sessions"] == 505
    assert body["history"]["warmup_bars"] == 505 and body["history"]["warmup_needed"] == 200
    assert any(line.startswith(summary) for line in body["history"]["summary"])
    assert client.get("/api/backtests/").json()["results"][0]["history"] == body["history"]


def test_an_engine_run_of_one_session_fills_on_that_session(client, market, alice):
    run = run_now(alice, system="engine", params={"retrain_every": 126, "profile": "Aggressive"}, start="2021-12-31")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.results["period"]["days"] == 1 and run.equity_curve["dates"] == ["2021-12-30", "2021-12-31"]
    assert run.results["history"]["first_model"]["history_sessions"] == 756
    assert run.results["validation"]["bootstrap"] is None  # one daily return: no bootstrap, said in words
    assert "Too few days for the bootstrap and the permutation test" in {v["title"] for v in validation_verdicts(run.results)}
    client.force_login(alice)
    page = client.get(reverse("backtesting:run", args=[run.pk])).content.decode()
    assert "The period is too short to split into in-sample and out-of-sample parts" in page
    assert 'id="split-metrics"' not in page and "First model trained on 756 sessions, 2019-01-02 to 2021-12-30" in page


def test_a_model_system_is_refused_on_the_page_saying_how_much_history_it_needs(client, market, alice):
    client.force_login(alice)
    form = {
        "system": "ml",
        "ml__min_train_days": "1000",
        "start": LAST_YEAR,
        "commission_bps": "1",
        "slippage_bps": "2",
        "execution": "next_open",
        "seed": "0",
    }
    response = client.post(reverse("backtesting:lab"), form)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].non_field_errors())
    assert "The first model needs 1,000 sessions of history before it; there are 757 (505 before 2021-01-04" in errors
    assert not BacktestRun.objects.exists()
