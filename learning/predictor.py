"""Predictions from the active ensemble, for workers (recommendation generation) and the benchmark.

The active ensemble version is loaded once per process and kept in memory, keyed by its id and sha256:
a promotion (new id) or a changed record (new hash) loads again, nothing else does. Loading verifies the
artifact's sha256 first (:func:`learning.registry.artifact_load`); when the active artifact does not verify
the last good version (the newest earlier active one whose artifact verifies) answers, and when there is no
such version, or no active version at all, the answer is "no prediction" with the reason, never a guess.

For each symbol and day the answer holds:

- ``p_up``: the ensemble's calibrated probability that the close H sessions later is above today's. This
  is the number users see as confidence in "up"; ``confidence`` is the calibrated probability of the
  predicted direction, ``max(p_up, 1 - p_up)``;
- ``p_up_raw``: the combiner's probability before calibration, ``components``: each base model's P(up), and
  ``combiner_weights``: the combiner's weight on each (``combiner``: stacked, average or best);
- ``contributions``: the features that moved the tree models most for this row, largest absolute first, in
  log-odds: XGBoost's TreeSHAP (``pred_contribs``) and the Random Forest's path decomposition (rescaled
  from probability to log-odds, still summing to the forest's own log-odds move), each weighted by its share
  of the combiner's weight on the tree models (equal shares when the combiner gives them none). They
  explain the tree components, not the whole ensemble; ``feature_values``: the row's feature values;
- ``skill`` and ``hit_rate``: the version's demonstrated out-of-fold skill on this symbol (its walk-forward
  evaluation folds, stored in its metrics; the overall figure when the symbol has too few rows):
  ``skill = max(0, AUC - 0.5) * 2`` in [0, 1], 0 when the model has no edge; ``hit_rate`` the share of
  those rows whose predicted direction came true (``None`` when unknown). A version trained before these
  figures existed falls back to its gate-fold AUC. The policy tilts positions in proportion to ``skill``;
- ``price_target``: ``close * (1 + expected_return)`` with ``expected_return = p_up * avg_up + (1 - p_up) *
  avg_down``, where ``avg_up``/``avg_down`` are the symbol's mean forward returns over H on the training
  rows that went up / did not (stored with the version). A centre, not a forecast of the size of the move:
  the models predict direction only.

Features for day ``t`` come from the stored bars up to ``t`` (the last ~``HISTORY_SESSIONS`` sessions of
every symbol, enough for the longest indicator window and the LSTM's look-back). This module imports no ML
library at import time; the web process never calls it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from learning import registry, selectors
from learning.models import ModelKind, ModelVersion
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS, TRADABLE

logger = logging.getLogger(__name__)

#: Sessions of bars read per prediction: the 200-day average's warm-up plus the LSTM window, with room to spare.
HISTORY_SESSIONS = 300
TOP_CONTRIBUTIONS = 5
PRICE_QUANTUM = Decimal("0.01")
#: Earlier versions tried, newest first, when the active artifact does not verify (each costs one sha256 pass).
FALLBACK_CANDIDATES = 3


@dataclass(frozen=True)
class Prediction:
    symbol: str
    day: date
    horizon_days: int
    p_up: float
    p_up_raw: float
    confidence: float
    direction: str  # "up" or "down"
    components: dict[str, float]
    contributions: list[tuple[str, float]]
    close: Decimal
    expected_return: float
    price_target: Decimal
    model_version_id: int
    model_label: str
    #: The row's feature values (name -> value, units as documented in learning.ml.features), for explanations.
    feature_values: dict[str, float] = field(default_factory=dict)
    #: Demonstrated out-of-fold skill on this symbol, in [0, 1] (0: no edge), and the hit rate behind it.
    skill: float = 0.0
    hit_rate: float | None = None
    #: The combiner's weight on each base model, and which combiner it is (stacked, average or best).
    combiner_weights: dict[str, float] = field(default_factory=dict)
    combiner: str = ""


@dataclass(frozen=True)
class PredictionOutcome:
    """A prediction, or ``prediction is None`` and ``reason`` says why there is none."""

    symbol: str
    prediction: Prediction | None
    reason: str = ""


@dataclass
class _Loaded:
    key: tuple[int, str]
    model: Any
    version: ModelVersion
    extra: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_loaded: dict[str, _Loaded] = {}
#: Versions whose artifact failed to verify, so a bad file is hashed (and logged) once, not on every call.
_refused: dict[tuple[int, str], str] = {}


def clear_cache() -> None:
    """Forget loaded models (tests; a worker never needs it: a new active version is picked up by itself)."""
    with _lock:
        _loaded.clear()
        _refused.clear()


def _previously_active(version: ModelVersion) -> list[ModelVersion]:
    """Versions of the same kind that were active before ``version`` (they passed the promotion gate), newest first."""
    return list(
        ModelVersion.objects.filter(kind=version.kind, activated_at__isnull=False)
        .exclude(pk=version.pk)
        .order_by("-activated_at", "-pk")[:FALLBACK_CANDIDATES]
    )


def active_model(kind: str = ModelKind.ENSEMBLE) -> tuple[Any | None, ModelVersion | None, str]:
    """``(model, version, reason)`` for the active version of ``kind``; model ``None`` with a reason when there is none.

    When the active version's artifact is missing, altered or unreadable, the last good version answers instead:
    the most recently active earlier version of the kind whose own artifact verifies (``version`` is then that
    one, so what is recorded with a prediction names the model that made it). When none verifies the answer
    is "no model" with the reason, never a guess and never an exception.
    """
    version = selectors.active_version(kind=kind)
    if version is None:
        return None, None, f"no active {kind} model: train one (manage.py train_models)"
    key = (version.pk, version.artifact_sha256)
    with _lock:
        cached = _loaded.get(kind)
        if cached is not None and cached.key == key:
            return cached.model, cached.version, ""
        if key in _refused:
            return None, version, _refused[key]
        model = registry.artifact_load(version)
        used = version
        if model is None:
            for earlier in _previously_active(version):
                model = registry.artifact_load(earlier)
                if model is not None:
                    used = earlier
                    logger.error(
                        "the active %s failed verification or could not be loaded; predicting with the last good %s",
                        version.label,
                        earlier.label,
                    )
                    break
        if model is None:
            reason = f"the active {version.label} failed verification or could not be loaded; see the worker log"
            _refused[key] = reason
            return None, version, reason
        _loaded[kind] = _Loaded(key=key, model=model, version=used)
        logger.info("loaded %s (sha256 %s) for predictions", used.label, used.artifact_sha256[:12])
        return model, used, ""


def _recent_bars(day: date | None) -> tuple[Any, dict[str, tuple[date, Decimal]]]:
    """A panel of the last :data:`HISTORY_SESSIONS` bars of every symbol up to ``day`` and each symbol's last close."""
    import pandas as pd

    from learning.ml.data import panel_from_long

    bars = PriceBar.objects.filter(symbol__in=ALL_SYMBOLS)
    if day is not None:
        bars = bars.filter(date__lte=day)
    dates = list(bars.order_by("-date").values_list("date", flat=True).distinct()[:HISTORY_SESSIONS])
    if not dates:
        return {}, {}
    rows = list(bars.filter(date__gte=min(dates)).order_by("symbol", "date").values_list(*selectors.BAR_COLUMNS))
    frame = pd.DataFrame(rows, columns=list(selectors.BAR_COLUMNS))
    last_close: dict[str, tuple[date, Decimal]] = {}
    for row in rows:
        last_close[row[0]] = (row[1], row[5])
    return panel_from_long(frame), last_close


def _target(close: Decimal, expected: float) -> Decimal:
    return (close * (Decimal(1) + Decimal(repr(expected)))).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def skill_for(metrics: dict[str, Any], symbol: str) -> tuple[float, float | None]:
    """``(skill, hit_rate)`` of a version for ``symbol`` from its stored metrics (see the module doc)."""
    edge = metrics.get("edge") or {}
    skill = metrics.get("skill") or {}
    figures = (skill.get("symbols") or {}).get(symbol) or skill.get("overall")
    if figures:
        hit_rate = figures.get("hit_rate")
        hit = float(hit_rate) if isinstance(hit_rate, (int, float)) else None
        if edge.get("found") is False:
            return 0.0, hit
        return max(0.0, min(1.0, float(figures.get("skill") or 0.0))), hit
    gate = metrics.get("gate") or {}
    auc, accuracy = gate.get("auc"), gate.get("accuracy")
    if edge.get("found") is False or not isinstance(auc, (int, float)):
        return 0.0, float(accuracy) if isinstance(accuracy, (int, float)) else None
    return max(0.0, min(1.0, (float(auc) - 0.5) * 2.0)), float(accuracy) if isinstance(accuracy, (int, float)) else None


def predict_day(*, day: date | None = None, symbols: list[str] | None = None) -> dict[str, PredictionOutcome]:
    """Predictions for ``symbols`` (default: the five stocks) on ``day`` (default: each one's latest bar).

    Features are computed once for all symbols (cross-sectional ranks need them all). A symbol whose latest
    bar is not on the requested day, or whose features are incomplete, gets "no prediction" with the reason.
    """
    import pandas as pd

    from learning.ml.features import compute_features
    from learning.ml.pipeline import expected_return

    wanted = list(symbols or TRADABLE)
    model, version, reason = active_model(ModelKind.ENSEMBLE)
    if model is None or version is None:
        return {s: PredictionOutcome(s, None, reason) for s in wanted}
    panel, last_close = _recent_bars(day)
    if "SPY" not in panel:
        return {s: PredictionOutcome(s, None, "no benchmark (SPY) bars stored") for s in wanted}
    features_used = list(version.features)
    tradable = sorted(s for s in panel if s in TRADABLE)
    features = compute_features(panel, symbols=tradable)
    missing_columns = [c for c in features_used if c not in features.columns]
    if missing_columns:
        return {s: PredictionOutcome(s, None, f"{version.label} needs features {missing_columns}") for s in wanted}
    features = features[features_used]
    complete = features[features.notna().all(axis=1)]
    metrics = version.metrics or {}
    stats = metrics.get("return_stats", {})
    horizon = int(metrics.get("horizon", version.hyperparameters.get("horizon", 5)))

    rows: dict[str, Any] = {}
    out: dict[str, PredictionOutcome] = {}
    for symbol in wanted:
        if symbol not in TRADABLE:
            out[symbol] = PredictionOutcome(symbol, None, f"{symbol} is not one of {', '.join(TRADABLE)}")
            continue
        if symbol not in last_close:
            out[symbol] = PredictionOutcome(symbol, None, f"no bars stored for {symbol}")
            continue
        bar_day, _ = last_close[symbol]
        if day is not None and bar_day != day:
            out[symbol] = PredictionOutcome(symbol, None, f"no {symbol} bar on {day} (latest {bar_day})")
            continue
        key = (pd.Timestamp(bar_day), symbol)
        if key not in complete.index:
            out[symbol] = PredictionOutcome(symbol, None, f"not enough {symbol} history on {bar_day} for every feature")
            continue
        rows[symbol] = key
    if rows:
        X = complete.loc[list(rows.values())]
        first_day = X.index.get_level_values("date").min()
        context = complete[complete.index.get_level_values("date") < first_day]
        parts = model.predict_components(X, context=context)
        contributions = _contributions(model, X)
        combiner_weights = {k: round(float(v), 6) for k, v in model.weights.items()}
        combiner = str(getattr(model, "combiner", {}).get("method", ""))
        for symbol, key in rows.items():
            row = parts.loc[key]
            p_up = float(row["ensemble"])
            bar_day, close = last_close[symbol]
            symbol_stats = stats.get(symbol) or stats.get("all") or {"avg_up": 0.0, "avg_down": 0.0}
            expected = expected_return(p_up, symbol_stats)
            skill, hit_rate = skill_for(metrics, symbol)
            out[symbol] = PredictionOutcome(
                symbol,
                Prediction(
                    symbol=symbol,
                    day=bar_day,
                    horizon_days=horizon,
                    p_up=p_up,
                    p_up_raw=float(row["combined"]),
                    confidence=max(p_up, 1.0 - p_up),
                    direction="up" if p_up > 0.5 else "down",
                    components={k: float(row[k]) for k in model.kinds},
                    contributions=contributions.get(key, []),
                    close=close,
                    expected_return=expected,
                    price_target=_target(close, expected),
                    model_version_id=version.pk,
                    model_label=version.label,
                    feature_values={str(k): float(v) for k, v in X.loc[key].items()},
                    skill=skill,
                    hit_rate=hit_rate,
                    combiner_weights=combiner_weights,
                    combiner=combiner,
                ),
            )
    return {s: out[s] for s in wanted}


#: Tree models whose per-feature contributions explain a prediction, in the order they are read.
TREE_KINDS: tuple[str, ...] = ("xgb", "rf")


def _contributions(model: Any, X: Any) -> dict[Any, list[tuple[str, float]]]:
    """Per row of ``X``: the top features of the tree models' contributions in log-odds (see the module doc)."""
    import numpy as np

    from learning.ml.calibration import logit

    members = getattr(model, "models", {})
    tables = {}
    for kind in TREE_KINDS:
        member = members.get(kind)
        if member is None or not hasattr(member, "contributions"):
            continue
        table = member.contributions(X)
        bias = table.pop("bias").to_numpy(dtype="float64")
        if kind == "rf":
            # Probability -> log-odds, keeping the sum: scale each row by its log-odds move over its probability move.
            p = bias + table.sum(axis=1).to_numpy()
            moved = np.abs(p - bias) > 1e-9
            slope = np.clip(p, 1e-6, 1 - 1e-6)
            scale = 1.0 / (slope * (1.0 - slope))
            scale[moved] = (logit(p[moved]) - logit(bias[moved])) / (p[moved] - bias[moved])
            table = table.mul(scale, axis=0)
        tables[kind] = table
    if not tables:
        return {}
    weights = {kind: max(0.0, float(getattr(model, "weights", {}).get(kind, 0.0))) for kind in tables}
    total = sum(weights.values())
    shares = {kind: (w / total if total > 0 else 1.0 / len(tables)) for kind, w in weights.items()}
    combined = sum(table * shares[kind] for kind, table in tables.items())
    result = {}
    for key, values in combined.iterrows():
        top = values.reindex(values.abs().sort_values(ascending=False).index)[:TOP_CONTRIBUTIONS]
        result[key] = [(str(name), round(float(v), 6)) for name, v in top.items()]
    return result


def predict_symbol(*, symbol: str, day: date | None = None) -> PredictionOutcome:
    """The prediction for one symbol (features are computed for all five either way)."""
    return predict_day(day=day, symbols=[symbol])[symbol]
