"""Reads of the learning app: model versions, training runs, the bars a training run learns from, and the
performance summary the API and the Learning page show. Nothing here imports an ML library."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from learning.models import ModelKind, ModelStatus, ModelVersion, RunStatus, TrainingRun
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS

#: A run "running" for longer than this is treated as dead (its worker was lost): above the task's hard limit.
DEFAULT_RUN_STALE_SECONDS = 2 * 3600 + 15 * 60
#: Columns of :func:`training_bars` rows, in order.
BAR_COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume")


def run_stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "LEARNING_RUN_STALE_SECONDS", DEFAULT_RUN_STALE_SECONDS))


def training_bars(*, until: date | None = None) -> list[tuple[Any, ...]]:
    """Every stored bar of the five stocks and the benchmark up to ``until`` (inclusive), ordered by symbol
    then date, as tuples in :data:`BAR_COLUMNS` order with prices as ``Decimal``."""
    bars = PriceBar.objects.filter(symbol__in=ALL_SYMBOLS)
    if until is not None:
        bars = bars.filter(date__lte=until)
    return list(bars.order_by("symbol", "date").values_list(*BAR_COLUMNS))


def active_version(*, kind: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, status=ModelStatus.ACTIVE).first()


def active_versions() -> list[ModelVersion]:
    """The active version of each kind, the ensemble first."""
    order = {k: i for i, k in enumerate([ModelKind.ENSEMBLE, *(k for k in ModelKind.values if k != ModelKind.ENSEMBLE)])}
    versions = list(ModelVersion.objects.filter(status=ModelStatus.ACTIVE).select_related("training_run"))
    return sorted(versions, key=lambda v: order.get(v.kind, 99))


def latest_version(*, kind: str) -> ModelVersion | None:
    """The most recently registered version of ``kind``, whatever its status."""
    return ModelVersion.objects.filter(kind=kind).order_by("-created_at", "-id").first()


def versions_recent(*, limit: int = 50) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("training_run").order_by("-created_at", "-id")[:limit]


def runs_recent(*, limit: int = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("triggered_by").order_by("-created_at", "-id")[:limit]


def run_in_progress(*, now: Any = None) -> TrainingRun | None:
    """A queued or running run that is not stale, if any (the oldest).

    Stale: queued, or running, for longer than :func:`run_stale_after` (the broker lost it, or its worker died).
    """
    now = now or timezone.now()
    cutoff = now - run_stale_after()
    alive = Q(status=RunStatus.QUEUED, created_at__gte=cutoff) | Q(status=RunStatus.RUNNING, started_at__gte=cutoff)
    return TrainingRun.objects.filter(alive).order_by("created_at", "id").first()


def operator_ids() -> list[int]:
    """Ids of active users who may run the installation (staff or superuser): they see training progress live."""
    from django.contrib.auth import get_user_model

    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(is_superuser=True))
        .values_list("id", flat=True)
    )


def _version_summary(version: ModelVersion) -> dict[str, Any]:
    metrics = version.metrics or {}
    fold = metrics.get("fold") or {}
    return {
        "id": version.pk,
        "kind": version.kind,
        "version": version.version,
        "name": version.label,
        "status": version.status,
        "status_reason": version.status_reason,
        "created_at": version.created_at,
        "activated_at": version.activated_at,
        "train_start": version.train_start,
        "train_end": version.train_end,
        "data_hash": version.data_hash,
        "features": len(version.features or []),
        "training_run": version.training_run_id,
        "gate_fold": fold.get("name"),
        "gate_metrics": metrics.get("gate") or {},
    }


def _no_edge_words(edge: dict[str, Any]) -> str:
    auc, spread = edge.get("auc"), edge.get("probability_std")
    auc_text = f"AUC {auc:.2f}" if isinstance(auc, (int, float)) else "no AUC"
    min_auc, min_std = edge.get("min_auc", 0.5), edge.get("min_probability_std", 0.005)
    if not isinstance(auc, (int, float)) or auc <= min_auc:
        return f"the direction model showed no out-of-sample skill ({auc_text})"
    spread_text = f"{spread:.4f}" if isinstance(spread, (int, float)) else "-"
    return f"the direction model's probabilities barely moved out of sample (spread {spread_text}, below {min_std}; {auc_text})"


def edge_summary(*, active: ModelVersion | None, latest: ModelVersion | None) -> dict[str, Any] | None:
    """Whether the direction model has an edge, in figures and plain words, for the Learning page and API.

    From the ``edge`` and ``skill`` each ensemble version stores (its evaluation folds). "No edge found" when
    the latest ensemble had none; then either an earlier active version still serves, or none does and the
    recommendations use the risk-only policy. ``None`` before any ensemble with these figures exists.
    """
    latest_edge = (latest.metrics or {}).get("edge") if latest is not None else None
    active_edge = (active.metrics or {}).get("edge") if active is not None else None
    if latest is not None and latest_edge is not None and not latest_edge.get("found", False):
        words = _no_edge_words(latest_edge)
        if active is None:
            message = f"No edge found: {words}; recommendations use the risk-only policy."
        else:
            auc = (active_edge or {}).get("auc", ((active.metrics or {}).get("gate") or {}).get("auc"))
            still = f" (out-of-sample AUC {auc:.2f})" if isinstance(auc, (int, float)) else ""
            message = f"No edge found by the latest training ({latest.label}): {words}; {active.label}{still} still serves."
        return _edge_block(latest, latest_edge, found=False, message=message)
    if active is not None and active_edge is not None and active_edge.get("found", False):
        overall = ((active.metrics or {}).get("skill") or {}).get("overall") or {}
        hit, bss, skill = overall.get("hit_rate"), overall.get("brier_skill"), overall.get("skill")
        parts = [f"AUC {active_edge['auc']:.2f}"] if isinstance(active_edge.get("auc"), (int, float)) else []
        if isinstance(hit, (int, float)):
            parts.append(f"hit rate {hit * 100:.0f} %")
        if isinstance(bss, (int, float)):
            parts.append(f"Brier skill {bss:+.3f}")
        skill_text = (
            f"; its skill for the policy is {skill:.2f} (0: none, 1: perfect ranking)" if isinstance(skill, (int, float)) else ""
        )
        message = f"Edge: {active.label} showed out-of-sample skill on its evaluation folds ({', '.join(parts)}){skill_text}."
        return _edge_block(active, active_edge, found=True, message=message)
    return None


def _edge_block(version: ModelVersion, edge: dict[str, Any], *, found: bool, message: str) -> dict[str, Any]:
    overall = ((version.metrics or {}).get("skill") or {}).get("overall") or {}
    return {
        "found": found,
        "message": message,
        "version": version.label,
        "version_id": version.pk,
        "auc": edge.get("auc"),
        "probability_std": edge.get("probability_std"),
        "min_auc": edge.get("min_auc"),
        "min_probability_std": edge.get("min_probability_std"),
        "hit_rate": overall.get("hit_rate"),
        "brier_skill": overall.get("brier_skill"),
        "skill": overall.get("skill"),
        "rows": edge.get("rows"),
    }


def performance_summary() -> dict[str, Any]:
    """What ``GET /api/learning/performance`` and the Learning page show.

    - ``active``: the active version of each kind with its gate-fold metrics;
    - ``folds``: for the active ensemble's training run, each walk-forward fold with every model's metrics
      and the baselines (always-up, momentum, buy-and-hold);
    - ``reliability``: the active ensemble's calibration bins on its gate fold; ``feature_importance``:
      of its tree models; ``weights``: the stacker's weight per base model;
    - ``edge``: whether the direction model has an edge, with the figures and a sentence (:func:`edge_summary`);
    - ``live``: accuracy of recommendations scored at their horizon (``None`` until recommendations exist).
    """
    active = active_versions()
    ensemble = next((v for v in active if v.kind == ModelKind.ENSEMBLE), None)
    folds: list[dict[str, Any]] = []
    if ensemble is not None:
        siblings = {ensemble.kind: ensemble}
        if ensemble.training_run_id is not None:
            siblings.update({v.kind: v for v in ModelVersion.objects.filter(training_run_id=ensemble.training_run_id)})
        for i, fold in enumerate((ensemble.metrics or {}).get("folds", [])):
            models: dict[str, Any] = {}
            for kind, version in siblings.items():
                version_folds = (version.metrics or {}).get("folds", [])
                if i < len(version_folds) and version_folds[i].get("fold") == fold.get("fold"):
                    models[kind] = version_folds[i].get("metrics", {})
            folds.append(
                {
                    "fold": fold.get("fold"),
                    "train": fold.get("train", {}),
                    "test": fold.get("test", {}),
                    "models": models,
                    "baselines": fold.get("baselines", {}),
                }
            )
    metrics = ensemble.metrics if ensemble is not None else {}
    return {
        "generated_at": timezone.now(),
        "horizon_days": metrics.get("horizon", getattr(settings, "LEARNING_HORIZON_DAYS", 5)),
        "active": [_version_summary(v) for v in active],
        "folds": folds,
        "reliability": metrics.get("reliability", []),
        "feature_importance": metrics.get("feature_importance", {}),
        "weights": metrics.get("weights", {}),
        "combiner": (metrics.get("combiner") or {}).get("method"),
        "edge": edge_summary(active=ensemble, latest=latest_version(kind=ModelKind.ENSEMBLE)),
        "live": None,
    }
