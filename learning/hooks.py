"""Figures the Learning page and ``GET /api/learning/performance`` show but the learning app cannot compute.

Dependencies point one way (learning may not import recommendations), yet the learning loop's proof lives to
its right: how recommendations did once scored ("live" accuracy, acceptance, calibration) and what the
acceptance model learned (its feature importances). This module defines the shapes learning expects and holds
one provider for each; an app to the right registers its providers from ``AppConfig.ready()``. No settings and
no import of the provider's app: with nothing registered (the recommendations app not installed) the API's
``live`` is ``null`` and the page leaves the card out.

A provider is called on every request that shows its figures, so it should be a few queries at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict


class LiveCalibrationBucket(TypedDict):
    lower: float
    upper: float
    evaluated: int
    mean_confidence: float
    hit_rate: float


class LiveGroup(TypedDict):
    """Scored recommendations of one group (all, or one model version). Rates are ``None`` with nothing behind them."""

    total: int
    answered: int
    accepted: int
    acceptance_rate: float | None
    evaluated: int
    correct: int
    accuracy: float | None
    base_rate: float | None
    calibration: list[LiveCalibrationBucket]


class LiveModelVersion(LiveGroup):
    model_version_id: int | None


class LivePerformance(LiveGroup):
    by_model_version: list[LiveModelVersion]


class AcceptanceImportance(TypedDict):
    """The newest acceptance model (P(the user accepts)) and what it leans on, largest importance first."""

    version: int
    trained_at: str  # ISO 8601
    responses: int
    users: int
    auc_mean: float | None
    base_rate: float | None
    importances: list[tuple[str, float]]


LiveProvider = Callable[[], LivePerformance | None]
ImportanceProvider = Callable[[], AcceptanceImportance | None]

_live: LiveProvider | None = None
_importance: ImportanceProvider | None = None


def register_live_performance(provider: LiveProvider) -> None:
    """Make ``provider`` the source of the ``live`` block (a later registration replaces an earlier one)."""
    global _live
    _live = provider


def register_acceptance_importance(provider: ImportanceProvider) -> None:
    """Make ``provider`` the source of the acceptance model card (a later registration replaces an earlier one)."""
    global _importance
    _importance = provider


def live_performance() -> LivePerformance | None:
    """The registered provider's figures, or ``None`` when no app registered one."""
    return _live() if _live is not None else None


def acceptance_importance() -> AcceptanceImportance | None:
    """The registered provider's card, or ``None`` when no app registered one (or there is no model yet)."""
    return _importance() if _importance is not None else None
