"""Signals come from the learning app's predictor or not at all: never invented numbers."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from recommendations.model_signals import SignalBatch, signals_for

pytestmark = pytest.mark.django_db

DAY = date(2024, 6, 3)


def test_without_an_active_model_there_are_no_signals_and_the_reason_says_so():
    batch = signals_for(DAY)

    assert batch.signals == {}
    assert set(batch.missing) == {"AAPL", "AMZN", "GOOGL", "META", "NVDA"}
    assert "no active ensemble model" in batch.reason


def test_a_prediction_becomes_a_signal_with_the_payoff_ratio_of_the_model_version(monkeypatch):
    from learning import predictor

    prediction = predictor.Prediction(
        symbol="AAPL",
        day=DAY,
        horizon_days=5,
        p_up=0.61,
        p_up_raw=0.6,
        confidence=0.61,
        direction="up",
        components={"rf": 0.6},
        contributions=[("ret_20", 0.2)],
        close=Decimal("190.1234"),
        expected_return=0.004,
        price_target=Decimal("190.88"),
        model_version_id=7,
        model_label="ensemble v3",
        feature_values={"ret_20": 0.05, "rsi_14": 55.0},
    )
    outcomes = {
        "AAPL": predictor.PredictionOutcome("AAPL", prediction),
        "NVDA": predictor.PredictionOutcome("NVDA", None, "no NVDA bar on 2024-06-03"),
    }
    version = SimpleNamespace(metrics={"return_stats": {"AAPL": {"avg_up": 0.03, "avg_down": -0.02}}})
    monkeypatch.setattr(predictor, "predict_day", lambda day, symbols: outcomes)
    monkeypatch.setattr(predictor, "active_model", lambda kind: (object(), version, ""))

    batch = signals_for(DAY)

    signal = batch.signals["AAPL"]
    assert signal.p_up == 0.61 and signal.model_version_id == 7 and signal.horizon_days == 5
    assert signal.payoff_ratio == pytest.approx(1.5)
    assert signal.feature_values == {"ret_20": 0.05}  # only the top contributions' values
    assert batch.missing == {"NVDA": "no NVDA bar on 2024-06-03"}


def test_a_predictor_that_fails_yields_no_signals_with_the_error(monkeypatch):
    from learning import predictor

    def broken(day, symbols):
        raise RuntimeError("artifact corrupted")

    monkeypatch.setattr(predictor, "predict_day", broken)

    batch = signals_for(DAY)

    assert batch.signals == {} and "artifact corrupted" in batch.reason


def test_a_model_version_without_return_stats_gives_an_unknown_payoff(monkeypatch):
    from learning import predictor

    prediction = SimpleNamespace(
        day=DAY,
        p_up=0.7,
        confidence=0.7,
        expected_return=0.0,
        price_target=None,
        contributions=[],
        model_version_id=1,
        horizon_days=5,
        close=Decimal("10"),
        model_label="x",
        components={},
        feature_values={},
        skill=0.0,
        hit_rate=None,
        combiner_weights={},
    )
    monkeypatch.setattr(
        predictor, "predict_day", lambda day, symbols: {"AAPL": SimpleNamespace(prediction=prediction, reason="")}
    )
    monkeypatch.setattr(predictor, "active_model", lambda kind: (object(), SimpleNamespace(metrics={}), ""))

    assert math.isnan(signals_for(DAY).signals["AAPL"].payoff_ratio)


def test_the_batch_reason_lists_each_missing_symbol():
    batch = SignalBatch(date=DAY, signals={}, missing={"AAPL": "a", "NVDA": "b"})
    assert batch.reason == "AAPL: a; NVDA: b"
