"""The learning settings in one place, with their defaults.

| setting | default | meaning |
|---|---|---|
| ``LEARNING_HORIZON_DAYS`` | 5 | horizon H of the labels, in trading days |
| ``LEARNING_EMBARGO_DAYS`` | H | sessions between the last training label and a test window |
| ``LEARNING_MODELS`` | every available kind | base models of the ensemble (``rl`` only while its feature flag is on) |
| ``LEARNING_MODEL_PARAMS`` | ``{}`` | hyperparameter overrides per kind, e.g. ``{"rf": {"n_estimators": 500}}`` |
| ``LEARNING_INNER_YEARS`` | 3 | inner walk-forward years the stacker and calibrator learn from |
| ``LEARNING_EVAL_FOLDS`` | 3 | yearly walk-forward folds evaluated on each training run |
| ``LEARNING_MIN_FOLD_DAYS`` | 60 | a test year with fewer sessions is not evaluated yet |
| ``LEARNING_CALIBRATION`` | ``"platt"`` | ``platt`` or ``isotonic`` |
| ``LEARNING_SEED`` | 0 | seed of every model |
| ``LEARNING_COST_BP`` | 10 | strategy cost per position change, basis points |
| ``LEARNING_AUC_MARGIN`` | 0.01 | promotion gate: AUC may be this much below the active version's |
| ``LEARNING_MIN_PROBABILITY_STD`` | 0.005 | edge rule: out-of-fold P(up) moving less than this (std within a fold) is no edge |
| ``LEARNING_MIN_AUC`` | 0.5 | edge rule: a model whose out-of-fold AUC is at most this has no edge (never promoted) |
| ``LEARNING_KEEP_VERSIONS`` | 10 | artifact files kept per kind besides the active one (older ones are deleted) |
| ``MODELS_DIR`` | ``VAR_DIR / "models"`` | where artifacts are stored |
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from quantai.errors import RuleViolation

#: Display and training order of the base models.
KIND_ORDER: tuple[str, ...] = ("rf", "xgb", "lstm", "rl")


def horizon_days() -> int:
    return int(getattr(settings, "LEARNING_HORIZON_DAYS", 5))


def auc_margin() -> float:
    return float(getattr(settings, "LEARNING_AUC_MARGIN", 0.01))


def keep_versions() -> int:
    return max(1, int(getattr(settings, "LEARNING_KEEP_VERSIONS", 10)))


def available_kinds() -> list[str]:
    """Base model kinds this installation can train (those with a model class), in :data:`KIND_ORDER`."""
    from learning.ml.models import MODEL_CLASSES

    return sorted(MODEL_CLASSES, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))


#: The libraries each kind trains with (``make run`` and the ML image install them all; a bare web image has none).
KIND_LIBRARIES: dict[str, tuple[str, ...]] = {
    "rf": ("sklearn",),
    "xgb": ("xgboost",),
    "lstm": ("torch",),
    "rl": ("torch", "gymnasium", "stable_baselines3"),
}
#: Where the ML worker says which kinds it can train (the web process cannot tell: its image has no ML library).
TRAINABLE_KINDS_KEY = "learning:trainable-kinds"


def installed_kinds() -> list[str]:
    """The kinds whose libraries *this* process could import (looked up, not imported: the web stays light)."""
    return [k for k in available_kinds() if all(importlib.util.find_spec(lib) is not None for lib in KIND_LIBRARIES.get(k, ()))]


def trainable_kinds_record() -> dict[str, Any]:
    """Called where training runs (the ML worker at start and at each run, or a command): store which kinds can be
    trained there."""
    record = {"kinds": installed_kinds(), "recorded_at": timezone.now().isoformat()}
    cache.set(TRAINABLE_KINDS_KEY, record, timeout=None)
    return record


def trainable_kinds_reported() -> dict[str, Any] | None:
    """What the ML worker last reported (``{"kinds", "recorded_at"}``), or ``None`` before it first started or trained."""
    record = cache.get(TRAINABLE_KINDS_KEY)
    return record if isinstance(record, dict) and isinstance(record.get("kinds"), list) else None


def default_kinds() -> list[str]:
    configured = getattr(settings, "LEARNING_MODELS", None)
    if configured:
        return list(configured)
    kinds = available_kinds()
    if "rl" in kinds:
        from quantai.flags import Flag, flag_enabled

        if not flag_enabled(Flag.REINFORCEMENT_LEARNING):
            kinds.remove("rl")
    return kinds


def clean_kinds(kinds: Iterable[str] | None) -> list[str]:
    """``kinds`` de-duplicated and checked (``None`` or empty: the default).

    A kind this installation cannot train (unknown, or, once the ML worker has reported, without its libraries
    there) is a :class:`RuleViolation` (code ``kind_unavailable``).
    """
    if not kinds:
        return default_kinds()
    chosen = list(dict.fromkeys(str(k) for k in kinds))
    known = available_kinds()
    unknown = [k for k in chosen if k not in known]
    if unknown:
        message = f"unknown model kind{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; choose from {', '.join(known)}"
        raise RuleViolation(message, fields={"kinds": [message]}, code="kind_unavailable")
    reported = trainable_kinds_reported()
    missing = [k for k in chosen if reported is not None and k not in reported["kinds"]]
    if missing:
        message = (
            f"the ML worker cannot train {', '.join(missing)}: its libraries are not installed there "
            f"(pip install -r requirements/ml.txt); it can train {', '.join(reported['kinds']) or 'no kind'}"  # type: ignore[index]
        )
        raise RuleViolation(message, fields={"kinds": [message]}, code="kind_unavailable")
    return chosen


def training_config(*, kinds: Iterable[str] | None = None) -> Any:
    """A :class:`learning.ml.pipeline.TrainingConfig` from the settings, for ``kinds`` (default: the configured ones)."""
    from learning.ml.pipeline import TrainingConfig

    horizon = horizon_days()
    embargo = getattr(settings, "LEARNING_EMBARGO_DAYS", None)
    params: dict[str, dict[str, Any]] = getattr(settings, "LEARNING_MODEL_PARAMS", {}) or {}
    chosen = clean_kinds(kinds)
    return TrainingConfig(
        kinds=tuple(chosen),
        base_params={k: dict(params.get(k, {})) for k in chosen},
        horizon=horizon,
        embargo=horizon if embargo is None else int(embargo),
        inner_years=int(getattr(settings, "LEARNING_INNER_YEARS", 3)),
        calibration=str(getattr(settings, "LEARNING_CALIBRATION", "platt")),
        seed=int(getattr(settings, "LEARNING_SEED", 0)),
        eval_folds=int(getattr(settings, "LEARNING_EVAL_FOLDS", 3)),
        min_fold_days=int(getattr(settings, "LEARNING_MIN_FOLD_DAYS", 60)),
        cost_bp=float(getattr(settings, "LEARNING_COST_BP", 10.0)),
        min_probability_std=float(getattr(settings, "LEARNING_MIN_PROBABILITY_STD", 0.005)),
        min_auc=float(getattr(settings, "LEARNING_MIN_AUC", 0.5)),
    )
