import json

import pytest
from django.core.management import CommandError, call_command

from backtesting.models import BacktestRun, RunStatus


def run_command(*args):
    from io import StringIO

    out = StringIO()
    call_command("run_backtest", *args, stdout=out)
    return out.getvalue()


def test_a_pure_run_prints_the_metrics_table_and_stores_nothing(market, tmp_path):
    target = tmp_path / "out.json"
    out = run_command("--system", "trend_ma", "--param", "fast=10,20", "--param", "slow=60", "--json", str(target))
    assert "strategy" in out and "SPY" in out and "Sharpe" in out and "out of sample" in out
    assert "Probability of backtest overfitting" in out
    body = json.loads(target.read_text())
    assert body["results"]["parameter_sets"] == 2 and len(body["data_hash"]) == 64
    assert not BacktestRun.objects.exists()


def test_the_same_command_twice_prints_the_same_numbers(market):
    args = ("--system", "mean_reversion_rsi", "--params", '{"entry": 25}', "--seed", "5", "--start", "2019-03-01")
    assert run_command(*args) == run_command(*args)


def test_with_a_user_the_run_is_stored_as_theirs(market, alice):
    out = run_command("--system", "buy_and_hold", "--user", "alice", "--split", "2021-01-04")
    run = BacktestRun.objects.get()
    assert run.owner == alice and run.status == RunStatus.SUCCEEDED and run.task_id == ""
    assert f"backtest #{run.pk} stored for alice" in out
    assert run.results["period"]["split"] == "2021-01-04"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--system", "trend_ma", "--param", "fast=500"), "parameters.fast"),
        (("--system", "trend_ma", "--param", "fast"), "NAME=VALUE"),
        (("--system", "trend_ma", "--params", "[1]"), "JSON object"),
        (("--system", "buy_and_hold", "--start", "2030-01-01"), "period"),
        (("--system", "buy_and_hold", "--user", "nobody"), "no user"),
    ],
)
def test_bad_input_is_a_command_error_with_the_reason(market, args, message):
    with pytest.raises(CommandError, match=message):
        run_command(*args)


def test_prices_can_come_from_csv_files(shared_prices_dir, db):
    out = run_command("--system", "trend_tsmom", "--param", "lookback=126", "--prices", str(shared_prices_dir))
    assert "trend_tsmom" in out and "Sharpe" in out
