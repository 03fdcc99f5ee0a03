"""The Learning page for analysts and operators (server-rendered; charts drawn by ``static/js/learning.js``).

It shows the active model versions and their status, the walk-forward folds of the active ensemble next to
the baselines, a reliability chart, feature importances, how the recommendations did live and what the
acceptance model leans on (both from :mod:`learning.hooks`, filled by the recommendations app), recent versions
and training runs with live progress. Operators can start a training run from it (the same service as
``POST /api/learning/train``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import role_required
from accounts.ratelimits import rate_limit
from accounts.roles import Role, is_operator
from learning import hooks, selectors
from learning.services import training_run_request
from learning.services.config import available_kinds, default_kinds, horizon_days
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


#: Largest acceptance-model importances shown on the page (the API of the recommendations app has them all).
ACCEPTANCE_FEATURES_SHOWN = 12


def _acceptance_card(card: hooks.AcceptanceImportance | None) -> dict[str, Any] | None:
    """The acceptance model card: its summary and the largest importances with their share of the largest one."""
    if card is None:
        return None
    top = sorted(card["importances"], key=lambda item: -item[1])[:ACCEPTANCE_FEATURES_SHOWN]
    largest = max((value for _, value in top), default=0.0)
    rows = [
        {"feature": name, "share": f"{value * 100:.1f} %", "relative": f"{value / largest:.4f}" if largest > 0 else "0"}
        for name, value in top
    ]
    return {**card, "rows": rows}


# login_required first: anonymous visitors go to sign-in instead of being audited as refused.
@login_required
@role_required(Role.ANALYST)
@require_GET
@never_cache
def learning_view(request: HttpRequest) -> HttpResponse:
    summary = selectors.performance_summary()
    runs = list(selectors.runs_recent(limit=15))
    context: dict[str, Any] = {
        "summary": summary,
        "active": summary["active"],
        "fold_tables": _fold_tables(summary["folds"]),
        "columns": [header for _, header, _ in FOLD_COLUMNS],
        "versions": list(selectors.versions_recent(limit=30)),
        "runs": runs,
        "run_in_progress": selectors.run_in_progress(),
        "can_train": is_operator(request.user),
        "kinds": available_kinds(),
        "default_kinds": default_kinds(),
        "horizon_days": summary.get("horizon_days") or horizon_days(),
        "chart_data": {
            "reliability": summary["reliability"],
            "feature_importance": summary["feature_importance"],
            "weights": summary["weights"],
        },
        # Filled by the recommendations app through learning.hooks (None when it is not installed or has no data).
        "acceptance": _acceptance_card(hooks.acceptance_importance()),
        "live": hooks.live_performance(),
        "runs_url": reverse("api-learning-runs"),
        "hide_next_step": True,
    }
    return render(request, "learning/learning.html", context)


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
