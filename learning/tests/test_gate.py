"""The edge rule and the promotion gate: a constant model is never promoted, not even as the first version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from accounts.testing import force_login_verified
from learning.ml.models import MODEL_CLASSES
from learning.ml.pipeline import MIN_PROBABILITY_STD, edge_check, promotion_decision, skill_figures
from learning.models import ModelStatus, ModelVersion, RunStatus
from learning.services.training import models_train

NO_EDGE = {"found": False, "reason": "its probabilities barely moved (spread 0.0000 < 0.005)"}
EDGE = {"found": True, "reason": ""}


# ---- the rule, pure ----


def _folds(n: int = 3000) -> np.ndarray:
    return np.repeat(["2021", "2022", "2023"], n // 3)


def test_a_constant_model_has_no_edge_even_when_its_level_follows_each_folds_base_rate() -> None:
    rng = np.random.default_rng(0)
    folds = _folds()
    rates = {"2021": 0.45, "2022": 0.55, "2023": 0.60}
    y = (rng.uniform(size=folds.size) < np.vectorize(rates.get)(folds)).astype(int)
    constant_per_fold = np.vectorize(rates.get)(folds)  # pooled, this would rank years and score AUC > 0.5

    edge = edge_check(constant_per_fold, y, folds)

    assert edge["found"] is False
    assert edge["auc"] == pytest.approx(0.5) and edge["probability_std"] == 0.0
    assert "barely moved" in edge["reason"] and "AUC 0.50" in edge["reason"]


def test_a_near_constant_model_has_no_edge_below_the_documented_spread() -> None:
    rng = np.random.default_rng(1)
    folds = _folds()
    signal = rng.normal(size=folds.size)
    y = (rng.uniform(size=folds.size) < 1 / (1 + np.exp(-signal))).astype(int)
    barely = 0.53 + 0.001 * signal  # ranks well, but moves by a tenth of a percentage point

    edge = edge_check(barely, y, folds)

    assert edge["auc"] > 0.6 and edge["probability_std"] < MIN_PROBABILITY_STD
    assert edge["found"] is False and "barely moved" in edge["reason"]
    assert edge_check(0.53 + 0.05 * signal, y, folds)["found"] is True


def test_a_model_ranking_no_better_than_chance_has_no_edge() -> None:
    rng = np.random.default_rng(2)
    folds = _folds()
    y = rng.integers(0, 2, folds.size)
    backwards = np.where(y == 1, 0.45, 0.55) + rng.normal(0, 0.01, folds.size)

    edge = edge_check(backwards, y, folds)

    assert edge["found"] is False and edge["auc"] < 0.5 and "no out-of-sample skill" in edge["reason"]


def test_skill_figures_of_a_forecast() -> None:
    y = np.array([1, 0, 1, 0, 1, 1])
    p = np.array([0.7, 0.3, 0.6, 0.4, 0.45, 0.8])
    figures = skill_figures(p, y, np.full(6, 0.5), np.array(["a"] * 6))

    assert figures["rows"] == 6 and figures["auc"] == 1.0 and figures["skill"] == 1.0
    assert figures["hit_rate"] == pytest.approx(5 / 6, abs=1e-4)
    brier = np.mean((p - y) ** 2)
    assert figures["brier_skill"] == pytest.approx(1 - brier / 0.25, abs=1e-4)


@pytest.mark.parametrize("active", [None, {"log_loss": 0.70, "auc": 0.48}])
def test_the_gate_refuses_a_model_without_an_edge_first_even_as_the_first_version(active: dict[str, float] | None) -> None:
    candidate = {"log_loss": 0.690, "auc": 0.50}

    decision = promotion_decision(candidate, active, fold="2023", edge=NO_EDGE)

    assert decision.promote is False and decision.reason.startswith("no edge found: its probabilities barely moved")
    assert promotion_decision(candidate, None, fold="2023", edge=EDGE).promote is True


def test_the_gate_refuses_a_candidate_worse_on_the_most_recent_year_in_log_loss_and_auc() -> None:
    candidate, active = {"log_loss": 0.700, "auc": 0.51}, {"log_loss": 0.690, "auc": 0.55}

    decision = promotion_decision(candidate, active, fold="2023", edge=EDGE)

    assert decision.promote is False and "log loss 0.7000 is worse" in decision.reason and "2023" in decision.reason
    # The edge rule is applied before the comparison: its reason is the one given.
    assert promotion_decision(candidate, active, fold="2023", edge=NO_EDGE).reason.startswith("no edge found")


def test_the_gate_refuses_a_candidate_whose_signal_traded_clearly_worse_on_the_most_recent_year() -> None:
    # As good a classifier by log loss and AUC, but its long/flat strategy on the gate fold (after costs) earned
    # a Sharpe ratio far below the active version's.
    active = {"log_loss": 0.690, "auc": 0.53, "strategy_sharpe": 1.40}
    worse = {"log_loss": 0.689, "auc": 0.53, "strategy_sharpe": 0.30}
    within_noise = {**worse, "strategy_sharpe": 1.00}

    refused = promotion_decision(worse, active, fold="2023", edge=EDGE)
    promoted = promotion_decision(within_noise, active, fold="2023", edge=EDGE)

    assert refused.promote is False
    assert "long/flat Sharpe 0.30 is more than 0.5 below the active version's 1.40 on fold 2023" in refused.reason
    assert promoted.promote is True and "long/flat Sharpe 1.00 vs 1.40" in promoted.reason
    # Without the figure on either side (an older version's stored metrics) the rule does not apply.
    assert promotion_decision(worse, {"log_loss": 0.690, "auc": 0.53}, fold="2023", edge=EDGE).promote is True


# ---- the rule in a training run ----


class Constant:
    """A base model that always says 0.5: the stacker can only keep the intercept."""

    kind: ClassVar[str] = "constant"

    def __init__(self, seed: int = 0) -> None:
        self._params = {"seed": seed}

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        return self

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray:
        return np.full(len(X), 0.5)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"kind": self.kind, "params": self._params}))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls(**json.loads(Path(path).read_text())["params"])


@pytest.fixture
def constant_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODEL_CLASSES, "constant", Constant)


@pytest.mark.django_db
def test_a_constant_model_is_refused_as_the_first_version_and_the_run_says_no_edge_found(
    edge_rule: Any,
    demo_bars: int,
    constant_kind: None,
) -> None:
    run = models_train(kinds=["constant"])

    assert run.status == RunStatus.SUCCEEDED
    assert not ModelVersion.objects.filter(status=ModelStatus.ACTIVE).exists()
    # Where training runs, it says which kinds it can train (the Learning page reads it).
    from learning.services.config import trainable_kinds_reported

    assert "constant" in trainable_kinds_reported()["kinds"]  # type: ignore[index]
    ensemble = ModelVersion.objects.get(kind="ensemble")
    assert ensemble.status == ModelStatus.CANDIDATE and ensemble.activated_at is None
    assert "no edge found" in ensemble.status_reason and "barely moved" in ensemble.status_reason
    edge = ensemble.metrics["edge"]
    assert edge["found"] is False and edge["probability_std"] < MIN_PROBABILITY_STD and edge["auc"] == pytest.approx(0.5)
    assert ensemble.metrics["skill"]["overall"]["skill"] == 0.0
    assert ensemble.metrics["promotion"]["promoted"] is False
    assert run.result["edge"]["found"] is False and run.result["versions"]["ensemble"]["promoted"] is False
    assert run.stage.startswith("no edge found (AUC 0.50)")


@pytest.mark.django_db
def test_a_constant_candidate_never_replaces_an_active_model(
    learning_settings: Any,
    demo_bars: int,
    constant_kind: None,
) -> None:
    first = models_train()  # rf + xgb with the rule off: an active ensemble
    active = ModelVersion.objects.get(kind="ensemble", status=ModelStatus.ACTIVE)
    # What the gate's trading rule compares with: the long/flat Sharpe of the gate fold, stored with the version.
    assert isinstance(active.metrics["gate"]["strategy_sharpe"], float)
    learning_settings.LEARNING_MIN_PROBABILITY_STD = MIN_PROBABILITY_STD

    second = models_train(kinds=["constant"])

    assert first.status == second.status == RunStatus.SUCCEEDED
    candidate = ModelVersion.objects.get(kind="ensemble", version=2)
    assert candidate.status == ModelStatus.CANDIDATE and "no edge found" in candidate.status_reason
    assert ModelVersion.objects.get(kind="ensemble", status=ModelStatus.ACTIVE) == active


NO_EDGE_MESSAGE = (
    "No edge found: the direction model showed no out-of-sample skill (AUC 0.50); recommendations use the risk-only policy."
)


@pytest.mark.django_db
def test_the_learning_page_and_the_performance_api_say_no_edge_found_in_plain_words(
    edge_rule: Any,
    demo_bars: int,
    constant_kind: None,
) -> None:
    from django.test import Client

    from learning.tests.helpers import analyst_user

    models_train(kinds=["constant"])
    client = Client()
    force_login_verified(client, analyst_user())

    body = client.get("/api/learning/performance").json()
    assert body["active"] == []
    assert body["edge"]["found"] is False and body["edge"]["message"] == NO_EDGE_MESSAGE
    assert body["edge"]["auc"] == pytest.approx(0.5) and body["edge"]["skill"] == 0.0 and body["edge"]["version"] == "ensemble v1"
    html = client.get("/learning/").content.decode()
    assert NO_EDGE_MESSAGE in html and 'data-edge-found="false"' in html


@pytest.mark.django_db
def test_with_an_active_model_the_page_says_the_latest_found_no_edge_and_which_version_still_serves(
    learning_settings: Any,
    demo_bars: int,
    constant_kind: None,
) -> None:
    from learning.selectors import performance_summary

    models_train()
    learning_settings.LEARNING_MIN_PROBABILITY_STD = MIN_PROBABILITY_STD
    models_train(kinds=["constant"])

    edge = performance_summary()["edge"]
    assert edge["found"] is False and edge["version"] == "ensemble v2"
    assert edge["message"].startswith("No edge found by the latest training (ensemble v2): the direction model")
    assert edge["message"].endswith("still serves.") and "; ensemble v1 (out-of-sample AUC " in edge["message"]
