from datetime import date
from unittest import mock

import numpy as np
import pytest
from django.db.models import F

from backtesting import selectors, services
from backtesting.models import BacktestRun, RunStatus
from backtesting.tasks import run_backtest
from market.models import PriceBar
from quantai.errors import ValidationFailed


def run_now(user, **request):
    run = services.backtest_create(user=user, enqueue=False, **request)
    return services.backtest_run(run_id=run.pk)


def test_a_run_stores_strategy_spy_and_equal_weight_metrics_side_by_side(market, alice):
    run = run_now(alice, system="trend_ma", params={"fast": 10, "slow": 50})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.progress == 100 and run.finished_at and run.duration_seconds is not None
    metrics = run.results["metrics"]
    for side in ("strategy", "spy", "equal_weight"):
        for period in ("full", "in_sample", "out_of_sample"):
            assert metrics[side][period]["sharpe"] is not None
    # SPY bought once and held: fully invested, beta 1 to itself, different from the strategy.
    assert metrics["spy"]["full"]["beta"] == pytest.approx(1.0)
    assert metrics["spy"]["full"]["exposure"] == pytest.approx(1.0, abs=1e-3)
    assert metrics["strategy"]["full"]["total_return"] != metrics["spy"]["full"]["total_return"]
    period = run.results["period"]
    assert period["in_sample_days"] + period["out_of_sample_days"] == period["days"]
    assert not period["split_was_given"]
    curve = run.equity_curve
    assert len(curve["dates"]) == len(curve["strategy"]) == len(curve["spy"]) == len(curve["strategy_drawdown"])
    assert curve["strategy"][0] == pytest.approx(1.0) and curve["dates"][0] == period["start"]
    assert max(curve["strategy_drawdown"]) <= 0.0
    assert len(run.data_hash) == 64
    boot = run.results["validation"]["bootstrap"]["full"]["sharpe"]
    assert boot[1] <= boot[0] <= boot[2]
    assert 0 < run.results["validation"]["permutation"]["p_value"] <= 1
    assert run.results["validation"]["pbo"] is None  # one parameter set: nothing to overfit


def test_the_strategy_equity_matches_the_engine_run_directly_on_the_same_bars(market, alice):
    from backtesting.engine import strategies
    from backtesting.engine.core import simulate

    run = run_now(alice, system="buy_and_hold", params={"rebalance": "none"}, commission_bps=0, slippage_bps=0)
    bars = selectors.backtest_bars()
    stocks = bars.select(["AAPL", "AMZN", "GOOGL", "META", "NVDA"])
    direct = simulate(stocks, strategies.buy_and_hold(stocks.close, stocks.dates, rebalance="none"))
    assert run.results["metrics"]["strategy"]["full"]["total_return"] == pytest.approx(direct.equity[0, -1] - 1, rel=1e-8)
    # Without rebalancing or costs the strategy is exactly the equal-weight basket's first month, held.
    assert run.equity_curve["strategy"][-1] == pytest.approx(direct.equity[0, -1], rel=1e-8)


def test_same_inputs_and_seed_give_the_same_numbers(market, alice):
    request = {"system": "mean_reversion_rsi", "params": {"period": [7, 14], "entry": 30}, "seed": 42}
    first, second = run_now(alice, **request), run_now(alice, **request)
    assert first.pk != second.pk
    assert first.results == second.results
    assert first.equity_curve == second.equity_curve
    assert first.data_hash == second.data_hash
    other_seed = run_now(alice, **{**request, "seed": 43})
    assert other_seed.results["metrics"] == first.results["metrics"]  # the seed only drives the resampling
    assert other_seed.results["validation"]["bootstrap"] != first.results["validation"]["bootstrap"]


def test_a_changed_price_changes_the_data_hash(market, alice):
    first = run_now(alice, system="buy_and_hold")
    PriceBar.objects.filter(symbol="AAPL", date=date(2020, 6, 1)).update(close=1, adj_close=1, low=1)
    second = run_now(alice, system="buy_and_hold")
    assert first.data_hash != second.data_hash


def test_a_sweep_reports_deflated_sharpe_pbo_and_every_parameter_set(market, alice):
    run = run_now(alice, system="trend_ma", params={"fast": [5, 10, 20], "slow": {"start": 40, "stop": 100, "step": 30}})
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.results["parameter_sets"] == 9
    assert len(run.results["sweep"]) == 9
    validation = run.results["validation"]
    assert 0 <= validation["pbo"]["pbo"] <= 1
    assert 0 <= validation["deflated_sharpe"]["dsr"] <= 1
    assert validation["deflated_sharpe"]["n_trials"] == 9
    # The reported strategy is the best in sample, chosen without looking at the out-of-sample days.
    selected = run.results["selected"]["index"]
    is_sharpes = [row["in_sample_sharpe"] for row in run.results["sweep"]]
    assert is_sharpes[selected] == max(is_sharpes)


def test_impossible_pairs_of_a_sweep_are_dropped(market, alice):
    run = run_now(alice, system="trend_ma", params={"fast": [20, 60], "slow": [50]})
    assert run.results["parameter_sets"] == 1
    assert run.results["selected"]["parameters"]["fast"] == 20


def test_an_explicit_split_date_is_used(market, alice):
    run = run_now(alice, system="trend_tsmom", params={"lookback": 60}, split=date(2021, 1, 4))
    assert run.results["period"]["split"] == "2021-01-04"
    assert run.results["period"]["split_was_given"]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"system": "astrology"}, "system"),
        ({"system": "trend_ma", "params": {"fast": 100, "slow": 50}}, "parameters.fast"),
        ({"system": "trend_ma", "params": {"fast": 1}}, "parameters.fast"),
        ({"system": "trend_ma", "params": {"fast": "soon"}}, "parameters.fast"),
        ({"system": "trend_ma", "params": {"speed": 3}}, "parameters"),
        ({"system": "trend_ma", "params": {"fast": list(range(2, 30)), "slow": list(range(100, 110))}}, "parameters"),
        ({"system": "trend_ma", "params": {"allow_short": [True, False]}}, "parameters.allow_short"),
        ({"system": "mean_reversion_rsi", "params": {"entry": 60, "exit": 40}}, "parameters.entry"),
        ({"system": "buy_and_hold", "params": {"rebalance": "weekly"}}, "parameters.rebalance"),
        ({"system": "buy_and_hold", "start": "2021-06-01", "end": "2021-01-01"}, "end"),
        ({"system": "buy_and_hold", "start": "June"}, "start"),
        ({"system": "buy_and_hold", "start": "2021-01-04", "split": "2020-01-02"}, "split_date"),
        ({"system": "buy_and_hold", "start": "2010-01-04", "end": "2012-12-31"}, "period"),
        ({"system": "buy_and_hold", "end": "2018-12-31"}, "period"),
        ({"system": "trend_ma", "params": {"fast": [5, 10]}, "start": "2021-11-01"}, "period"),
        ({"system": "buy_and_hold", "commission_bps": -1}, "commission_bps"),
        ({"system": "buy_and_hold", "execution": "yesterday"}, "execution"),
        ({"system": "buy_and_hold", "seed": -5}, "seed"),
    ],
)
def test_invalid_requests_are_refused_with_a_message_per_field(market, alice, request_, field):
    with pytest.raises(ValidationFailed) as caught:
        services.backtest_create(user=alice, **request_)
    assert field in caught.value.fields, caught.value.fields
    assert all(isinstance(m, str) and m for m in caught.value.fields[field])
    assert not BacktestRun.objects.exists()


def test_a_period_without_spy_prices_is_refused(market, alice):
    PriceBar.objects.filter(symbol="SPY").delete()
    with pytest.raises(ValidationFailed) as caught:
        services.backtest_create(user=alice, system="buy_and_hold")
    assert "SPY" in caught.value.fields["period"][0]


def test_prices_are_read_in_one_query_as_floats_on_the_adjusted_scale(market, django_assert_num_queries):
    PriceBar.objects.filter(symbol="AAPL", date=date(2020, 3, 2)).update(adj_close=F("close") / 2)
    with django_assert_num_queries(1):
        bars = selectors.backtest_bars(start=date(2020, 1, 2), end=date(2020, 12, 31))
    assert bars.symbols == ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY")
    assert bars.dates[0].date() == date(2020, 1, 2) and bars.dates[-1].date() == date(2020, 12, 31)
    assert bars.close.dtype == np.float64 and not np.isnan(bars.close).any()
    row = bars.dates.get_loc(np.datetime64("2020-03-02"))
    stored = PriceBar.objects.get(symbol="AAPL", date=date(2020, 3, 2))
    assert bars.close[row, 0] == pytest.approx(float(stored.adj_close))
    factor = float(stored.adj_close) / float(stored.close)
    assert factor == pytest.approx(0.5, rel=1e-4)
    assert bars.open[row, 0] == pytest.approx(float(stored.open) * factor, rel=1e-12)


def test_progress_is_pushed_live_to_the_owner(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", enqueue=False)
    with mock.patch("quantai.jobs.notify_user") as notify:
        services.backtest_run(run_id=run.pk)
    payloads = [c.args for c in notify.call_args_list]
    assert {p[0] for p in payloads} == {alice.pk}
    assert {p[1] for p in payloads} == {"job.progress"}
    dones = [p[2]["done"] for p in payloads]
    assert dones == sorted(dones) and len(dones) >= 4
    assert payloads[-1][2] == {"job": "backtest", "job_id": str(run.pk), "done": 100, "total": 100, "status": "finished"}


def test_the_command_progress_callback_sees_every_stage(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", enqueue=False)
    seen = []
    services.backtest_run(run_id=run.pk, progress=lambda percent, stage: seen.append((percent, stage)))
    assert seen[0][0] < 10 and seen[-1] == (100, "done")
    assert "permutation test" in [s for _, s in seen]


def test_creating_a_run_enqueues_it_only_after_the_commit(market, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = services.backtest_create(user=alice, system="trend_tsmom", params={"lookback": 20})
    assert run.status == RunStatus.QUEUED and run.task_id
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()  # tasks are eager in the tests: this runs it
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_running_the_task_twice_changes_nothing_the_second_time(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", enqueue=False)
    assert run_backtest(run.pk) == {"run_id": run.pk, "status": "succeeded"}
    run.refresh_from_db()
    finished_at, results = run.finished_at, run.results
    with mock.patch("backtesting.services.backtest_compute") as compute:
        assert run_backtest(run.pk) == {"run_id": run.pk, "status": "succeeded"}
    compute.assert_not_called()
    run.refresh_from_db()
    assert run.finished_at == finished_at and run.results == results


def test_a_run_left_running_restarts_only_when_its_own_task_is_delivered_again(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", enqueue=False)
    BacktestRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, task_id="t-1", progress=40)

    other = run_backtest.apply(kwargs={"run_id": run.pk}, task_id="t-2").get()
    run.refresh_from_db()
    assert other == {"run_id": run.pk, "status": "running"} and run.progress == 40

    again = run_backtest.apply(kwargs={"run_id": run.pk}, task_id="t-1").get()
    run.refresh_from_db()
    assert again == {"run_id": run.pk, "status": "succeeded"} and "restarted after its worker was lost" in run.log


def test_the_task_returns_quietly_when_the_run_is_gone(db):
    assert run_backtest(987654) == {"run_id": 987654, "status": "missing"}


def test_a_run_whose_prices_vanished_fails_with_a_message(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", start=date(2021, 6, 1), enqueue=False)
    PriceBar.objects.filter(date__gte=date(2021, 1, 1)).delete()
    run = services.backtest_run(run_id=run.pk)
    assert run.status == RunStatus.FAILED and run.error_code == "insufficient_data"
    assert "no session with prices" in run.error and "2019-01-02 to 2020-12-31" in run.error
    assert run.results == {} and run.finished_at is not None


def test_an_unexpected_error_fails_the_run_without_leaking_details(market, alice):
    run = services.backtest_create(user=alice, system="buy_and_hold", enqueue=False)
    with mock.patch("backtesting.services.backtest_compute", side_effect=ZeroDivisionError("secret path /srv/x")):
        run = services.backtest_run(run_id=run.pk)
    assert run.status == RunStatus.FAILED and run.error_code == "internal_error"
    assert "ZeroDivisionError" in run.error and "/srv/x" not in run.error


@pytest.mark.parametrize(
    "params",
    [
        {"fast": 10**400},
        {"fast": {"start": 5, "stop": 50, "step": 1e-320}},
        {"fast": {"start": 5, "stop": 50}},
        {"fast": [[5]]},
        {"fast": {"start": "a", "stop": 9, "step": 1}},
        {"allow_short": {"x": 1}},
    ],
)
def test_malformed_parameters_are_validation_errors_not_crashes(params):
    from backtesting.systems import ParameterError, clean_parameters

    with pytest.raises(ParameterError) as caught:
        clean_parameters("trend_ma", params)
    assert caught.value.fields
