"""``learning_report`` (CSV in, metrics out, never the database) and ``train_models`` (the nightly job by hand)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from learning.models import ModelVersion, RunStatus, TrainingRun
from learning.tests.ml_synthetic import synthetic_panel

METRIC_KEYS = {
    "accuracy",
    "balanced_accuracy",
    "auc",
    "log_loss",
    "brier",
    "brier_skill",
    "ic",
    "top20_accuracy",
    "strategy_sharpe",
    "strategy_return",
    "strategy_max_drawdown",
}


@pytest.fixture(scope="module")
def csv_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The synthetic market split in two directories: the second extends the first by a year."""
    panel = synthetic_panel(1300, seed=5)
    early, late = tmp_path_factory.mktemp("early"), tmp_path_factory.mktemp("late")
    for symbol, frame in panel.items():
        frame.loc[:"2018-12-31"].reset_index().to_csv(early / f"{symbol}.csv", index=False, date_format="%Y-%m-%d")
        frame.loc["2019-01-01":].reset_index().to_csv(late / f"{symbol}.csv", index=False, date_format="%Y-%m-%d")
    return early, late


def test_learning_report_prints_models_beside_baselines_and_writes_the_json_layout(
    csv_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    out = StringIO()
    target = tmp_path / "report.json"
    early, late = csv_dirs
    # No django_db mark: pytest-django turns any database access into an error, so this proves none happens.
    call_command(
        "learning_report",
        "--prices", str(early), "--prices", str(late),
        "--train-end", "2018-12-31", "--test-start", "2019-01-01", "--test-end", "2019-06-28",
        "--models", "xgb", "--json", str(target),
        stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    for name in ("xgb", "ensemble", "always_up", "momentum", "buy_and_hold"):
        assert name in text
    report = json.loads(target.read_text())
    assert set(report) >= {"test", "models", "baselines", "timings"}
    assert set(report["test"]) == {"rows", "base_rate", "start", "end"}
    assert "2019-01-01" <= report["test"]["start"] <= report["test"]["end"] <= "2019-06-28"  # the later directory was read
    assert set(report["models"]) == {"xgb", "ensemble"}
    assert all(set(m) == METRIC_KEYS for m in report["models"].values())
    assert set(report["baselines"]) == {"always_up", "momentum", "buy_and_hold"}
    assert set(report["timings"]) == {"train_seconds", "predict_ms_per_symbol"} and "xgb" in report["timings"]["train_seconds"]
    # The ensemble's AUC beside its best component's, in the JSON and in one plain line.
    summary = report["summary"]
    assert summary["ensemble_auc"] == report["models"]["ensemble"]["auc"]
    assert summary["best_component"] == "xgb" and summary["best_component_auc"] == report["models"]["xgb"]["auc"]
    assert f"ensemble AUC {summary['ensemble_auc']:.4f} vs best component (xgb) AUC {summary['best_component_auc']:.4f}" in text
    combiner = report["combiner"]
    assert combiner["method"] in {"stacked", "average", "best"} and set(combiner["selection"]["candidates"]) == {
        "stacked",
        "average",
        "best",
    }
    assert f"combiner {combiner['method']}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--train-end", "2019-01-01", "--test-start", "2019-01-01"], "must be before"),
        (["--train-end", "2018-12-31", "--test-start", "2019-01-01", "--test-end", "2018-06-01"], "before --test-start"),
        (["--train-end", "31/12/2018", "--test-start", "2019-01-01"], "not a date"),
        (["--train-end", "2018-12-31", "--test-start", "2019-01-01", "--models", "svm"], "unknown model kind"),
    ],
)
def test_learning_report_rejects_bad_arguments(csv_dirs: tuple[Path, Path], args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("learning_report", "--prices", str(csv_dirs[0]), *args, stdout=StringIO())


def test_learning_report_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such directory"):
        call_command(
            "learning_report", "--prices", str(tmp_path / "nope"), "--train-end", "2018-12-31", "--test-start", "2019-01-01"
        )


@pytest.mark.django_db
def test_train_models_trains_then_skips_unchanged_data(learning_settings: Any, demo_bars: int) -> None:
    out = StringIO()
    call_command("train_models", "--models", "rf", "xgb", stdout=out)

    first = TrainingRun.objects.get()
    assert first.status == RunStatus.SUCCEEDED and first.trigger == "command"
    text = out.getvalue()
    assert f"training run #{first.pk}: succeeded" in text
    assert [line.split()[:3] for line in text.splitlines()[1:]] == [
        ["rf", "v1", "active"],
        ["xgb", "v1", "active"],
        ["ensemble", "v1", "active"],
    ]
    assert ModelVersion.objects.filter(training_run=first).count() == 3

    again = StringIO()
    call_command("train_models", "--models", "rf", "xgb", stdout=again)
    assert "skipped" in again.getvalue() and "unchanged" in again.getvalue()


@pytest.mark.django_db
def test_train_models_reports_failures_and_bad_arguments(learning_settings: Any) -> None:
    with pytest.raises(CommandError, match="no price bars"):
        call_command("train_models", stdout=StringIO())
    assert TrainingRun.objects.get().status == RunStatus.FAILED
    with pytest.raises(CommandError, match="unknown model kind"):
        call_command("train_models", "--models", "svm", stdout=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("train_models", "--until", "tomorrow", stdout=StringIO())
