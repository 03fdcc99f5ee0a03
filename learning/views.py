"""The Learning page's own figures, and starting a training run from it.

The page (``learning/``, for analysts and operators; charts drawn by ``static/js/learning.js``) shows the active
model versions and their status, the walk-forward folds of the active ensemble next to the baselines, a
reliability chart, feature importances, recent versions and training runs with live progress:
:func:`learning_page_context` builds those. It also shows how the recommendations did live and what the
acceptance model leans on, which this app cannot read (recommendations sit to its right), so the page's view is
:func:`insights.views.learning.learning_view`, which adds them. Operators start a training run from the page
(:func:`learning_train_view`, the same service as ``POST /api/learning/train``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from accounts.permissions import role_required
from accounts.ratelimits import rate_limit
from accounts.roles import Role, is_operator
from learning import selectors
from learning.services import training_run_request
from learning.services.config import available_kinds, default_kinds, horizon_days, trainable_kinds_reported
from quantai.errors import ApplicationError

#: Columns of the fold tables: (metric key, header, format) where format is "pct" (a fraction shown in %) or "num".
FOLD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "Accuracy", "pct"),
    ("auc", "AUC", "num"),
    ("log_loss", "Log loss", "num"),
    ("brier_skill", "Brier skill", "num"),
    ("ic", "IC", "num"),
    ("top20_accuracy", "Top-20 % acc.", "pct"),
    ("strategy_return", "Strategy return / yr", "pct"),
    ("strategy_sharpe", "Sharpe", "num"),
    ("strategy_max_drawdown", "Max drawdown", "pct"),
)
MODEL_ORDER = ("ensemble", "rf", "xgb", "lstm", "rl")
BASELINE_LABELS = {"always_up": "Always up (base rate)", "momentum": "20-day momentum", "buy_and_hold": "Buy and hold"}


def _format(value: Any, fmt: str) -> str:
    if not isinstance(value, (int, float)):
        return "\N{EN DASH}"
    return f"{value * 100:.1f} %" if fmt == "pct" else f"{value:.3f}"


def _cells(metrics: dict[str, Any]) -> list[str]:
    return [_format(metrics.get(key), fmt) for key, _, fmt in FOLD_COLUMNS]


def _fold_tables(folds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tables = []
    for fold in reversed(folds):  # newest first
        models = fold.get("models", {})
        rows = [
            {"name": kind, "cells": _cells(models[kind]), "is_model": True}
            for kind in sorted(models, key=lambda k: MODEL_ORDER.index(k) if k in MODEL_ORDER else 99)
        ]
        rows += [
            {"name": BASELINE_LABELS.get(name, name), "cells": _cells(metrics), "is_model": False}
            for name, metrics in fold.get("baselines", {}).items()
        ]
        tables.append({"fold": fold.get("fold"), "train": fold.get("train", {}), "test": fold.get("test", {}), "rows": rows})
    return tables


def learning_page_context(request: HttpRequest) -> dict[str, Any]:
    """The Learning page's context from this app's data: versions, folds against baselines, chart data and runs."""
    summary = selectors.performance_summary()
    runs = list(selectors.runs_recent(limit=15))
    return {
        "summary": summary,
        "active": summary["active"],
        "fold_tables": _fold_tables(summary["folds"]),
        "columns": [header for _, header, _ in FOLD_COLUMNS],
        "versions": list(selectors.versions_recent(limit=30)),
        "runs": runs,
        "run_in_progress": selectors.run_in_progress(),
        "can_train": is_operator(request.user),
        **_kind_choices(),
        "horizon_days": summary.get("horizon_days") or horizon_days(),
        "chart_data": {
            "reliability": summary["reliability"],
            "feature_importance": summary["feature_importance"],
            "weights": summary["weights"],
        },
        "runs_url": reverse("api-learning-runs"),
        "hide_next_step": True,
    }


def _kind_choices() -> dict[str, Any]:
    """The base-model checkboxes: every kind, those the ML worker reported it cannot train disabled."""
    reported = trainable_kinds_reported()
    trainable = None if reported is None else set(reported["kinds"])
    defaults = set(default_kinds())
    return {
        "kind_choices": [
            {
                "kind": kind,
                "available": trainable is None or kind in trainable,
                "checked": kind in defaults and (trainable is None or kind in trainable),
            }
            for kind in available_kinds()
        ],
        "kinds_reported": reported,
        "kinds_reported_at": parse_datetime(reported["recorded_at"]) if reported else None,
    }


@login_required
@role_required(Role.OPERATOR)
@require_POST
@rate_limit("training", key="user")
def learning_train_view(request: HttpRequest) -> HttpResponse:
    """Queue a training run from the page's form (``kinds`` checkboxes), then back to the page."""
    kinds = [k for k in request.POST.getlist("kinds") if k]
    try:
        run = training_run_request(user=request.user, kinds=kinds or None)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Training run #{run.pk} is queued; its progress shows below.")
    return redirect("learning")
