"""Generating a day's recommendations for every user: signals once per symbol, sizing vectorised over users."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.profiles import profile_for
from market import calendar
from market.symbols import BENCHMARK, TRADABLE
from portfolios.core.ledger import SHORT_RESERVE
from quantai.notifier import RecommendationNew, notify_user
from recommendations import selectors
from recommendations.core import conditions, reasoning, sizing
from recommendations.model_signals import DEFAULT_HORIZON, Signal, SignalBatch, SignalProvider, signals_for
from recommendations.models import Recommendation, RecommendationType
from recommendations.services.personalise import Personaliser

if TYPE_CHECKING:  # pandas and the policy are imported when generating, not when the web process loads services
    from recommendations.core.policy import daily

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
SHARE = Decimal("0.0001")
FRACTION = Decimal("0.0001")
PROBABILITY = Decimal("0.000001")

#: ``progress(symbol, done, total)`` after each symbol is sized.
Progress = Callable[[str, int, int], None]


@dataclass
class GenerateResult:
    """What a generation run did. ``reason`` says why nothing (or not everything) was generated."""

    date: date
    users: int = 0
    created: int = 0
    existing: int = 0
    symbols: list[str] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    missing: dict[str, str] = field(default_factory=dict)
    #: Symbols sized by the risk-only policy because the direction model gave no signal, and why.
    risk_only: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    def describe(self) -> str:
        head = f"{self.date}: {self.created} new recommendations for {self.users} users"
        if self.existing:
            head += f" ({self.existing} already existed)"
        if self.actions:
            head += " - " + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))
        if self.reason:
            head += f". {self.reason}"
        return head


def _resolve(day: date, signals: SignalBatch | SignalProvider | None) -> SignalBatch:
    if signals is None:
        return signals_for(day)
    if isinstance(signals, SignalBatch):
        return signals
    return signals(day)


def recommendations_generate(
    *,
    date: date,
    users: Iterable[User] | None = None,
    signals: SignalBatch | SignalProvider | None = None,
    progress: Progress | None = None,
) -> GenerateResult:
    """Create the recommendations for the close of ``date`` for ``users`` (default: every active user with a portfolio).

    ``signals`` defaults to :func:`recommendations.model_signals.signals_for` (the active model); a batch or a provider
    can be passed instead (tests, simulations).

    The size is the trade from the user's holding to the risk-first policy's target weight for their profile
    (:mod:`recommendations.core.policy`): volatility target, trend filter, drawdown brake, and a tilt from the direction
    model in proportion to its demonstrated skill. A symbol without a model signal is sized by the risk-only policy
    (no tilt) and its card says so, as does a symbol whose signal is unusable (for another day, or not a
    probability: it is refused, never used); the result names them and says why the model gave nothing. Only a
    symbol without a bar on ``date`` (or without the history to measure its volatility) gets no recommendation,
    and the result says why.

    Idempotent: one row per (user, symbol, date) (a unique constraint); rows that exist are left as they are.
    Each new row is pushed to the user's open browsers (``recommendation.new``) after the transaction commits.
    Prices, volatility and the market regime come from bars dated ``date`` or earlier only.
    """
    day = date
    batch = _resolve(day, signals)
    result = GenerateResult(date=day)

    user_list = list(users) if users is not None else list(selectors.users_for_generation())
    result.users = len(user_list)
    if not user_list:
        result.reason = "No active users with a portfolio."
        return result

    history = selectors.closes_up_to(day)
    closes_on_day = {s: rows[-1][1] for s, rows in history.items() if rows and rows[-1][0] == day}
    arrays = {s: np.array([float(c) for _, c in rows]) for s, rows in history.items()}
    sigmas = {s: conditions.daily_volatility(a) for s, a in arrays.items()}
    known = [v for v in sigmas.values() if v is not None]
    fallback_sigma = max(known) if known else 0.0  # unknown risk is taken as the riskiest known, never as none

    user_ids = [u.pk for u in user_list]
    states = selectors.portfolio_states(user_ids, prices=closes_on_day)
    profiles = [profile_for(u.risk_tolerance) for u in user_list]
    usable, refused = _usable_signals(batch, day)
    policy = _policy_targets(history, day, sorted({p.name for p in profiles}), usable)

    def held_value(state: selectors.PortfolioState, symbol: str) -> float:
        price = float(closes_on_day.get(symbol) or 0)
        return float(state.long_shares.get(symbol, 0) + state.short_shares.get(symbol, 0)) * price

    # VaR in dollars of each user's position in each symbol (sum over symbols = the portfolio's upper bound).
    var_by_symbol = {
        s: np.array([sizing.Z_95 * (sigmas.get(s) or fallback_sigma) * held_value(states[uid], s) for uid in user_ids])
        for s in TRADABLE
    }
    var_total = sum(var_by_symbol.values(), np.zeros(len(user_ids)))
    equity = np.array([float(states[uid].equity) for uid in user_ids])
    common = {
        "equity": equity,
        "cash": np.array([float(states[uid].cash) for uid in user_ids]),
        "available_cash": np.array([float(states[uid].available_cash) for uid in user_ids]),
        "max_weight": np.array([float(p.max_position_weight) for p in profiles]),
        "var_budget": np.array([float(p.var_budget_1d_95) for p in profiles]),
    }

    existing = set(Recommendation.objects.filter(trading_date=day, user_id__in=user_ids).values_list("user_id", "symbol"))
    expires_on = calendar.next_trading_day(day)
    now = timezone.now()
    rows: list[Recommendation] = []
    # --- personalisation hook (1/3): None when Flag.PERSONALISED_RECOMMENDATIONS is off -> nothing below changes.
    personaliser = Personaliser.for_users(user_list)
    # Every tradable symbol: one without a usable model signal still gets a card (risk-only), and one without a
    # bar on the day is named in ``missing`` (never silently left out).
    symbols = list(TRADABLE)
    for done, symbol in enumerate(symbols, start=1):
        signal = usable.get(symbol)
        no_signal = ""
        if signal is None:
            signal = _risk_only_signal(symbol, day, history.get(symbol, []))
            no_signal = refused.get(symbol) or batch.missing.get(symbol) or "no model signal"
        problem = _symbol_problem(signal, day, closes_on_day, sigmas)
        if problem:
            result.missing[symbol] = problem
            if progress:
                progress(symbol, done, len(symbols))
            continue
        if no_signal:
            result.risk_only[symbol] = no_signal
        result.symbols.append(symbol)
        close = closes_on_day[symbol]
        price = close.quantize(CENT, rounding=ROUND_HALF_EVEN)  # a trade price has cents
        sigma = float(sigmas[symbol] or 0.0)
        accounts = sizing.Accounts(
            held_long=np.array([float(states[uid].long_shares.get(symbol, 0)) for uid in user_ids]),
            held_short=np.array([float(states[uid].short_shares.get(symbol, 0)) for uid in user_ids]),
            other_var=var_total - var_by_symbol[symbol],
            **common,
        )
        market = sizing.Market(
            price=float(price),
            sigma_1d=sigma,
            p_up=signal.p_up,
            payoff_ratio=signal.payoff_ratio,
            short_reserve=float(SHORT_RESERVE),
        )
        found = [policy.get(p.name, {}).get(symbol) for p in profiles]
        targets = [t for t in found if t is not None]
        if len(targets) < len(found):
            result.missing[symbol] = f"no policy target for {symbol} on {day}"
            continue
        sized = sizing.size_to_target(
            accounts,
            market,
            target_weight=np.array([t.weight for t in targets]),
            min_trade=np.array([t.min_trade for t in targets]),
        )
        if personaliser is not None:  # personalisation hook (2/3): shrinks buys/new shorts only, never above `sized`
            sized = personaliser.adapt(symbol=symbol, user_ids=user_ids, sized=sized, market=market, accounts=accounts)
        market_conditions = conditions.market_conditions(
            symbol_closes=arrays[symbol], spy_closes=arrays.get(BENCHMARK, np.array([]))
        )
        market_conditions["as_of"] = day.isoformat()
        horizon = max(1, int(signal.horizon_days))
        evaluate_on = calendar.add_trading_days(day, horizon)
        for i, user in enumerate(user_list):
            if (user.pk, symbol) in existing:
                result.existing += 1
                continue
            rows.append(
                _row(
                    user=user,
                    profile=profiles[i],
                    state=states[user.pk],
                    signal=signal,
                    sized=sized,
                    i=i,
                    price=price,
                    sigma=sigma,
                    day=day,
                    now=now,
                    horizon=horizon,
                    expires_on=expires_on,
                    evaluate_on=evaluate_on,
                    market_conditions=market_conditions,
                    personal=personaliser.adjustments.get((user.pk, symbol)) if personaliser is not None else None,
                    target=targets[i],
                )
            )
        if progress:
            progress(symbol, done, len(symbols))

    if personaliser is not None:  # personalisation hook (3/3): priority and P(accept); no row removed or re-actioned
        personaliser.rank(rows)

    with transaction.atomic():
        # ignore_conflicts: a concurrent run that wrote the same (user, symbol, date) first wins; no error.
        Recommendation.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        new_keys = {(r.user_id, r.symbol) for r in rows}
        created = Recommendation.objects.filter(trading_date=day, user_id__in=user_ids).values_list(
            "pk", "user_id", "symbol", "recommendation_type"
        )
        for pk, uid, symbol, action in created:
            if (uid, symbol) not in new_keys:
                continue
            result.created += 1
            result.actions[action] += 1
            payload: RecommendationNew = {"recommendation_id": pk, "symbol": symbol, "action": action}  # type: ignore[typeddict-item]
            notify_user(uid, "recommendation.new", payload)
    if result.missing:
        result.reason = "Skipped " + "; ".join(f"{s}: {r}" for s, r in sorted(result.missing.items()))
    if result.risk_only:
        whys = sorted(set(result.risk_only.values()))
        if len(whys) == 1:
            note = f"Risk-only policy (no model signal) for {', '.join(sorted(result.risk_only))}: {whys[0]}"
        else:
            note = "Risk-only policy (no model signal) for " + "; ".join(f"{s}: {r}" for s, r in sorted(result.risk_only.items()))
        result.reason = f"{result.reason}. {note}" if result.reason else note
    logger.info(result.describe())
    return result


#: Sessions behind the risk-only card's probability (the symbol's own base rate of rising over the horizon).
BASE_RATE_SESSIONS = 504


def _risk_only_signal(symbol: str, day: date, rows: list[tuple[date, Decimal]]) -> Signal:
    """A card's probability when the direction model has nothing to say: the symbol's base rate of rising.

    The share of the last :data:`BASE_RATE_SESSIONS` sessions whose close ``H`` sessions later was higher, counting
    only windows that ended by ``day`` (no look-ahead). It is a calibrated frequency, not a forecast; the policy
    gives it no weight (no tilt without demonstrated skill).
    """
    closes = np.array([float(c) for _, c in rows[-(BASE_RATE_SESSIONS + DEFAULT_HORIZON) :]])
    horizon = DEFAULT_HORIZON
    if closes.size > horizon + 20:
        moves = closes[horizon:] / closes[:-horizon] - 1.0
        p_up = float(np.clip((moves > 0).mean(), 0.01, 0.99))
        expected = float(moves.mean())
    else:
        p_up, expected = 0.5, 0.0
    return Signal(
        symbol=symbol,
        date=day,
        p_up=p_up,
        confidence=max(p_up, 1.0 - p_up),
        expected_return=expected,
        price_target=None,
        top_contributions=[],
        model_version_id=None,
        horizon_days=horizon,
        close=rows[-1][1] if rows and rows[-1][0] == day else None,
        model_label="risk-only policy (no model edge)",
    )


def _usable_signals(batch: SignalBatch, day: date) -> tuple[dict[str, Signal], dict[str, str]]:
    """The model signals the engine may use, and why each other one was refused (never used, not even for the tilt)."""
    usable: dict[str, Signal] = {}
    refused: dict[str, str] = {}
    for symbol, signal in batch.signals.items():
        if signal.date != day:
            refused[symbol] = f"the signal is for {signal.date}, not {day}"
        elif not 0.0 <= signal.p_up <= 1.0:  # also refuses NaN
            refused[symbol] = f"the model's P(up) {signal.p_up} is not a probability"
        else:
            usable[symbol] = signal
    return usable, refused


#: The last few days' targets, keyed by everything they depend on (a simulation generates each day twice).
_TARGETS_CACHE: dict[tuple[Any, ...], dict[str, dict[str, daily.SymbolTarget]]] = {}
_TARGETS_CACHE_SIZE = 8


def _policy_targets(
    history: dict[str, list[tuple[date, Decimal]]], day: date, profiles: list[str], signals: dict[str, Signal]
) -> dict[str, dict[str, daily.SymbolTarget]]:
    """Every profile's target per symbol for ``day`` from the closes up to ``day`` and the model's skilled view.

    Remembered per process for the exact inputs (every close, the profiles and the model's view), so generating
    the same day again (a second group of users, a retry) does not refit the volatility models.
    """
    import hashlib

    import pandas as pd

    from recommendations.core.policy import daily

    series = {s: rows for s, rows in history.items() if s in TRADABLE and rows}
    if not series:
        return {}
    model = daily.ModelView(
        p_up={s: sig.p_up for s, sig in signals.items()},
        skill={s: sig.skill if math.isfinite(sig.skill) else 0.0 for s, sig in signals.items()},
        payoff={s: sig.payoff_ratio for s, sig in signals.items()},
    )
    digest = hashlib.sha256(repr(sorted(series.items())).encode(), usedforsecurity=False).hexdigest()
    view = repr((sorted(model.p_up.items()), sorted(model.skill.items()), sorted(model.payoff.items())))
    key = (day, tuple(profiles), digest, view)
    if key in _TARGETS_CACHE:
        return _TARGETS_CACHE[key]
    close = pd.DataFrame(
        {s: pd.Series([float(c) for _, c in rows], index=pd.DatetimeIndex([d for d, _ in rows])) for s, rows in series.items()}
    ).sort_index()
    close = close[close.index <= pd.Timestamp(day)]
    targets = daily.day_targets(close, profiles, model=model)
    if len(_TARGETS_CACHE) >= _TARGETS_CACHE_SIZE:
        _TARGETS_CACHE.pop(next(iter(_TARGETS_CACHE)))
    _TARGETS_CACHE[key] = targets
    return targets


def _symbol_problem(signal: Signal, day: date, closes_on_day: dict[str, Decimal], sigmas: dict[str, float | None]) -> str:
    if signal.symbol not in closes_on_day:
        return f"no {signal.symbol} bar on {day}"
    if sigmas.get(signal.symbol) is None:
        return f"not enough {signal.symbol} history before {day} to measure its volatility"
    return ""


def _confidence(action: str, signal: Signal) -> float:
    """The calibrated probability that the card's direction is right: P(up) for a BUY, P(down) for a SELL; for a
    HOLD (no direction) the probability of the likelier direction, as the model states it."""
    if action == RecommendationType.BUY:
        return signal.p_up
    if action == RecommendationType.SELL:
        return 1.0 - signal.p_up
    return signal.confidence


def _shares_decimal(value: float) -> Decimal:
    return Decimal(f"{value:.4f}").quantize(SHARE, rounding=ROUND_DOWN)


def _fraction(value: float, quantum: Decimal = FRACTION) -> Decimal:
    return min(Decimal(1), max(Decimal(0), Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_EVEN)))


def _row(
    *,
    user: User,
    profile: Any,
    state: selectors.PortfolioState,
    signal: Signal,
    sized: sizing.Sizing,
    i: int,
    price: Decimal,
    sigma: float,
    day: date,
    now: Any,
    horizon: int,
    expires_on: date,
    evaluate_on: date,
    market_conditions: dict[str, Any],
    target: daily.SymbolTarget,
    personal: tuple[float, float] | None = None,
) -> Recommendation:
    action = str(sized.action[i])
    side = str(sized.side[i])
    shares = _shares_decimal(float(sized.shares[i]))
    # The float core's caps, checked again in Decimal against what the ledger will enforce.
    if side == "BUY":
        shares = min(shares, (max(state.available_cash, Decimal(0)) / price).quantize(SHARE, rounding=ROUND_DOWN))
    elif side == "SELL":
        shares = min(shares, state.long_shares.get(signal.symbol, Decimal(0)))
    elif side == "COVER":
        shares = min(shares, state.short_shares.get(signal.symbol, Decimal(0)))
    reason = str(sized.reason[i])
    if action != RecommendationType.HOLD and shares <= 0:
        action, side, reason, shares = RecommendationType.HOLD.value, "", sizing.TOO_SMALL, Decimal(0)
    equity = float(state.equity)
    held = state.long_shares.get(signal.symbol, Decimal(0)) + state.short_shares.get(signal.symbol, Decimal(0))
    weight_before = float(held * price) / equity if equity > 0 else 0.0
    var_after_pct = float(sized.var_after[i]) / equity if equity > 0 else 0.0
    facts = reasoning.Facts(
        symbol=signal.symbol,
        action=action,
        side=side,
        shares=float(shares),
        price=float(price),
        p_up=signal.p_up,
        profile=profile.name,
        max_weight=float(profile.max_position_weight),
        weight_after=float(sized.weight_after[i]),
        var_after_pct=var_after_pct,
        var_budget_pct=float(profile.var_budget_1d_95),
        reason=reason,
        policy=target.as_dict(),
        contributions=signal.top_contributions,
        feature_values=signal.feature_values,
        # (size the risk limits allowed, learned scale) when personalisation shrank this size: the reason says so.
        personal_base_shares=personal[0] if personal else 0.0,
        personal_size_scale=personal[1] if personal else 1.0,
        model_skill=signal.skill if math.isfinite(signal.skill) else 0.0,
        model_hit_rate=signal.hit_rate,
        weight_before=weight_before,
    )
    model_features = {
        "p_up": round(signal.p_up, 6),
        "components": {k: round(v, 6) for k, v in signal.components.items()},
        "payoff_ratio": None if not np.isfinite(signal.payoff_ratio) else round(signal.payoff_ratio, 6),
        "expected_return": round(signal.expected_return, 6),
        "contributions": [[n, round(v, 6)] for n, v in signal.top_contributions],
        "feature_values": {k: round(v, 6) for k, v in signal.feature_values.items()},
        "model_label": signal.model_label,
        "policy": target.as_dict(),
        "skill": round(signal.skill, 6) if math.isfinite(signal.skill) else 0.0,
        "combiner_weights": {k: round(float(v), 6) for k, v in signal.combiner_weights.items()},
        "sizing": {
            "reason": reason,
            "kelly_full": round(float(sized.kelly_full[i]), 6),
            "kelly_scaled": round(float(sized.kelly_scaled[i]), 6),
            "kelly_fraction": str(profile.kelly_fraction),
            "max_weight": str(profile.max_position_weight),
            "var_budget_1d_95": str(profile.var_budget_1d_95),
            "weight_after": round(float(sized.weight_after[i]), 6),
            "var_after": round(float(sized.var_after[i]), 2),
            "var_after_pct": round(var_after_pct, 6),
            "sigma_1d": round(sigma, 6),
            "equity": str(state.equity),
            "available_cash": str(state.available_cash),
            "profile": profile.name,
        },
    }
    return Recommendation(
        user=user,
        symbol=signal.symbol,
        recommendation_type=action,
        trade_side=side,
        recommended_shares=shares,
        recommended_price=price,
        confidence_score=_fraction(_confidence(action, signal)),
        model_prediction=_fraction(signal.p_up, PROBABILITY),
        risk_score=_fraction(float(sized.risk_score[i])),
        recommendation_timestamp=now,
        recommendation_reasoning=reasoning.reasoning_text(facts, experience=user.investment_experience),
        market_conditions=market_conditions,
        model_features=model_features,
        trading_date=day,
        horizon_days=horizon,
        expires_on=expires_on,
        evaluate_on=evaluate_on,
        price_target=signal.price_target.quantize(CENT) if signal.price_target is not None else None,
        expected_return=Decimal(repr(float(signal.expected_return))).quantize(PROBABILITY),
        model_version_id=signal.model_version_id,
    )
