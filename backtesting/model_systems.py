"""The two model-driven systems: machine-learning signals (``ml``) and the QuantAI engine replayed (``engine``).

Both get their probabilities from the same walk-forward retraining (:mod:`backtesting.walkforward`), so a
prediction used on day t never comes from a model that saw it. The first model is fitted on every session
before the simulated window (so a recent period is evaluated with years of training history), then
refitted inside it; features and the engine's volatility estimates are warmed up on that history too.
``ml`` turns them into 1/N slots like the rule systems (long at or above a threshold, optionally short at
or below its mirror image) and the lab simulates them; ``engine`` sizes them with the recommendation
engine's own policy for a risk profile (:mod:`recommendations.core.policy`). Models are fitted on the ML workers (the
task's queue); nothing here imports scikit-learn or XGBoost at import time. No Django.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backtesting.system_types import DataError, Grid, Param, System, SystemRun

if TYPE_CHECKING:  # imported where used: the lab's forms and API read these systems without loading numpy
    import numpy as np

PROFILE_NAMES = ("Conservative", "Moderate", "Aggressive")

_MODEL_PARAMS = (
    Param(
        "model",
        "choice",
        "rf",
        "Model refitted walk-forward: rf (Random Forest, cheapest), xgb (XGBoost) or ensemble "
        "(both, stacked and calibrated like the learning app's; slowest).",
        choices=("rf", "xgb", "ensemble"),
        sweepable=False,
    ),
    Param(
        "retrain_every", "int", 63, "Refit the model every this many trading days (expanding window).", 5, 504, sweepable=False
    ),
    Param(
        "min_train_days",
        "int",
        504,
        "Sessions of history the first model needs. It is fitted on every session before the period; with "
        "fewer than this before it, the first model comes this many sessions after the first stored price "
        "(no positions before it).",
        252,
        2520,
        sweepable=False,
    ),
    Param("horizon", "int", 5, "The model predicts the direction of the close this many days ahead.", 1, 20, sweepable=False),
    Param(
        "embargo",
        "int",
        5,
        "Sessions between the last training label and the first day a model predicts.",
        0,
        60,
        sweepable=False,
    ),
)


def _feature_warmup(grid: Grid) -> int:
    """Bars the models' longest feature needs before its first value (the learning app's ``MAX_WINDOW``)."""
    from learning.ml.features import MAX_WINDOW

    return int(MAX_WINDOW)


def _one(grid: Grid, name: str) -> Any:
    import numpy as np

    return np.asarray(grid[name]).ravel()[0].item()


def model_history_error(*, min_train_days: int, before: int, inside: int, start: str | None) -> str | None:
    """Why no model can be fitted in time (None when one can): the first model needs ``min_train_days``
    sessions of history and must come before the period's last session. The message says how much is
    needed and how much there is."""
    if before + inside > min_train_days:
        return None
    where = f"{before} before {start} and {inside} in the period" if start else f"{inside} in the period"
    return (
        f"The first model needs {min_train_days:,} sessions of history before it; there are {before + inside:,} "
        f"({where}). Lower min_train_days, end the period later or store older prices."
    )


def _first_model(retrains: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the first fitted model saw (from its retrain entry), or None if none was fitted."""
    entry = next((r for r in retrains if r.get("fitted")), None)
    if entry is None:
        return None
    keys = ("date", "history_sessions", "history_start", "rows", "train_start", "train_end", "label_end")
    return {k: entry.get(k) for k in keys}


def model_probabilities(run: SystemRun, grid: Grid) -> tuple[Any, dict[str, Any]]:
    """Walk-forward P(up) and payoff ratios for every session of the run's history (NaN before the first
    model), and what to report about the models (``first_model``: the history the first one saw)."""
    import numpy as np

    from backtesting.walkforward import WalkForwardConfig, walk_forward_probabilities

    config = WalkForwardConfig(
        model=str(_one(grid, "model")),
        horizon=int(_one(grid, "horizon")),
        embargo=int(_one(grid, "embargo")),
        retrain_every=int(_one(grid, "retrain_every")),
        min_train_days=int(_one(grid, "min_train_days")),
        seed=run.seed,
    )
    if run.stocks.n_days <= config.min_train_days:  # the lab checks first, with the period's own figures
        raise DataError(
            f"The first model needs {config.min_train_days:,} sessions of history before it; there are "
            f"{run.stocks.n_days:,} up to the period's end. Lower min_train_days or store older prices."
        )

    def report(done: int, total: int, stage: str) -> None:
        run.progress(int(100 * done / max(total, 1)), stage)

    wf = walk_forward_probabilities(run.stocks, run.spy, config, first_session=run.start, progress=report)
    predicted = np.isfinite(wf.p_up[run.start :]).any(axis=1)
    first = wf.dates[run.start + int(np.argmax(predicted))].strftime("%Y-%m-%d") if predicted.any() else None
    info = {
        "model": config.model,
        "horizon": config.horizon,
        "embargo": config.embargo,
        "retrain_every": config.retrain_every,
        "min_train_days": config.min_train_days,
        "models_fitted": sum(1 for r in wf.retrains if r["fitted"]),
        "first_prediction": first,
        "first_model": _first_model(wf.retrains),
        "retrains": wf.retrains,
    }
    return wf, info


def _ml(run: SystemRun, grid: Grid) -> tuple[Any, dict[str, Any]]:
    from backtesting.engine.core import carry_in, simulate
    from backtesting.engine.strategies import probability_weights

    wf, info = model_probabilities(run, grid)
    weights = probability_weights(wf.p_up, run.stocks.close, grid["threshold"], allow_short=bool(_one(grid, "allow_short")))
    sim = simulate(
        run.stocks.rows(run.start),
        carry_in(weights, run.start),
        execution="next_close" if run.execution == "next_close" else "next_open",
        commission_bps=run.commission_bps,
        slippage_bps=run.slippage_bps,
        borrow_bps=run.borrow_bps,
    )
    return sim, {"walk_forward": info}


def engine_weights(run: SystemRun, grid: Grid, wf: Any) -> np.ndarray:
    """(P, T, N) weights the engine's cards lead to for each profile of the grid over the run's whole history.

    The recommendation policy itself (:func:`recommendations.core.policy.targets.target_weights`): GARCH volatility
    forecasts, the trend filter, the profile's volatility target and cap, the drawdown brake and the model tilt
    in proportion to the walk-forward model's skill on predictions whose labels had ended (zero skill: no tilt),
    then the minimum trade and trims above the cap (:func:`with_min_trade`), as a user accepting every card holds.
    Row ``t`` uses rows ``<= t`` only.
    """
    import numpy as np
    import pandas as pd

    from backtesting.scoreboard.stats import direction_labels, expanding_skill
    from recommendations.core.policy.targets import followed_weights
    from recommendations.core.policy.volatility import garch_forecasts, log_returns

    close = run.stocks.close_frame()
    volatility = garch_forecasts(log_returns(close))
    p_up = pd.DataFrame(wf.p_up, index=close.index, columns=close.columns)
    payoff = pd.DataFrame(wf.payoff, index=close.index, columns=close.columns)
    labels, ends = direction_labels(close, int(_one(grid, "horizon")))
    skill = expanding_skill(p_up, labels, ends)
    out = []
    for profile in [str(v) for v in np.asarray(grid["profile"]).ravel().tolist()]:
        out.append(followed_weights(close, volatility, profile, p_up=p_up, skill=skill, payoff=payoff).to_numpy())
    return np.stack(out)


def _engine(run: SystemRun, grid: Grid) -> tuple[Any, dict[str, Any]]:
    import numpy as np

    from backtesting.engine.core import carry_in, simulate

    wf, info = model_probabilities(run, grid)
    weights = engine_weights(run, grid, wf)
    stops = {
        k: np.where(np.asarray(grid[k], dtype=float) > 0, np.asarray(grid[k], dtype=float), np.nan)
        for k in ("stop_loss", "take_profit")
    }
    sim = simulate(
        run.stocks.rows(run.start),
        carry_in(weights, run.start),
        execution="next_close" if run.execution == "next_close" else "next_open",
        commission_bps=run.commission_bps,
        slippage_bps=run.slippage_bps,
        borrow_bps=run.borrow_bps,
        allow_short=False,
        stop_loss=stops["stop_loss"].ravel(),
        take_profit=stops["take_profit"].ravel(),
    )
    return sim, {"walk_forward": info, "orders_filled": orders_filled(sim.shares), "policy": "risk-first targets"}


def orders_filled(shares: np.ndarray) -> dict[str, list[int]]:
    """Filled orders per side and parameter set, counted from the (P, T, N) shares held at each close (one order
    per symbol and day whose holding changed; the policy is long only, so no SHORT or COVER)."""
    import numpy as np

    change = np.diff(np.asarray(shares, dtype=float), axis=1, prepend=0.0)
    eps = 1e-9
    return {
        "BUY": (change > eps).sum(axis=(1, 2)).astype(int).tolist(),
        "SELL": (change < -eps).sum(axis=(1, 2)).astype(int).tolist(),
        "SHORT": [0] * shares.shape[0],
        "COVER": [0] * shares.shape[0],
    }


MODEL_SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System(
            "ml",
            "The learning app's features and models, refitted on an expanding window every few weeks inside the backtest "
            "(purged, with an embargo), so no prediction comes from a model that saw its day. Long a stock (a fifth of "
            "the equity) while P(up) is at or above the threshold.",
            (
                Param("threshold", "float", 0.55, "Long when the model's P(up) is at least this.", 0.5, 0.95),
                Param("allow_short", "bool", False, "Short (a 1/N slot) when P(up) is at most 1 - threshold.", sweepable=False),
                *_MODEL_PARAMS,
            ),
            None,
            simulate=_ml,
            warmup=_feature_warmup,
        ),
        System(
            "engine",
            "Every recommendation the engine would have made for a risk profile, accepted and filled on the next bar: "
            "the risk-first policy's target weights (GARCH volatility forecasts, the profile's volatility target and "
            "cap, a trend filter, a drawdown brake, and a tilt from the walk-forward model in proportion to its "
            "demonstrated skill), traded when the difference passes the minimum trade, trims above the cap; "
            "optional stop-loss and take-profit.",
            (
                Param("profile", "choice", "Moderate", "Risk profile whose limits size every trade.", choices=PROFILE_NAMES),
                Param("stop_loss", "float", 0.0, "Close a position this fraction below its entry (0: no stop).", 0.0, 0.5),
                Param("take_profit", "float", 0.0, "Close a position this fraction above its entry (0: none).", 0.0, 5.0),
                *_MODEL_PARAMS,
            ),
            None,
            simulate=_engine,
            warmup=_feature_warmup,
        ),
    )
}
