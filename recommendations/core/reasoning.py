"""The plain-language reason on a recommendation card. Pure: no Django, no I/O.

Every card is the trade from today's holding to the risk-first policy's target (:mod:`recommendations.core.policy`),
so the reason says what drove the target (volatility, the trend filter, the drawdown brake or the model's tilt), a
trim above the profile's cap, what the risk checks did (position weight against the profile's limit, the VaR
budget, or why the size is zero), the features that pushed hardest when the model has a demonstrated edge, and why
personalisation sized it below what the limits allowed, worded for the user's experience:

- Beginner: everyday words, no jargon, no formulas ("has risen 8 % over the past month");
- Intermediate: the common terms with numbers ("20-day momentum +8 %, RSI 71");
- Advanced: the numbers behind the decision (the target weight, the model's tilt, 1-day 95 % VaR against the budget).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

BEGINNER, INTERMEDIATE, ADVANCED = "Beginner", "Intermediate", "Advanced"

#: Words a Beginner's text must never contain (tests check it).
JARGON: Final = ("RSI", "VaR", "Kelly", "SMA", "MACD", "volatility", "momentum", "log-odds", "P(up)", "Bollinger", "beta")


@dataclass(frozen=True)
class Facts:
    """Everything the text may mention. Fractions are fractions (0.18 = 18 %); money in dollars."""

    symbol: str
    action: str  # BUY / SELL / HOLD
    side: str  # BUY / SELL / SHORT / COVER / "" (no trade)
    shares: float
    price: float
    p_up: float
    profile: str
    max_weight: float
    weight_after: float
    var_after_pct: float  # portfolio 1-day 95 % VaR after the trade, fraction of equity
    var_budget_pct: float
    reason: str  # the sizing reason code (see recommendations.core.sizing)
    #: The risk-first policy's target and what drove it (``recommendations.core.policy.daily.SymbolTarget.as_dict()``).
    policy: dict[str, Any]
    contributions: Sequence[tuple[str, float]] = ()
    feature_values: dict[str, float] = field(default_factory=dict)
    #: What the risk limits allowed before personalisation shrank the size (0: personalisation did not shrink it),
    #: and the user's learned size scale (the share of suggested sizes they usually take).
    personal_base_shares: float = 0.0
    personal_size_scale: float = 1.0
    #: The direction model's demonstrated out-of-fold skill on this symbol (0..1) and hit rate (NaN: unknown).
    model_skill: float = 0.0
    model_hit_rate: float = float("nan")
    #: The position's weight of the portfolio before the trade (NaN: unknown).
    weight_before: float = float("nan")


def _pct(x: float, signed: bool = True, digits: int = 0) -> str:
    value = round(x * 100, digits)
    if digits == 0:
        value = int(value)
    text = f"{value:+}" if signed else f"{value}"
    return f"{text} %"


# name -> (beginner phrase, expert phrase); each gets the feature's value (None when unknown).
_Phrase = Callable[[float | None], str]


def _up_down(v: float | None, up: str, down: str) -> str:
    return up if (v or 0) >= 0 else down


_FEATURES: dict[str, tuple[_Phrase, _Phrase]] = {
    "ret_1": (
        lambda v: (
            f"the price {_up_down(v, 'rose', 'fell')} {_pct(abs(v or 0), False, 1)} on the last day"
            if v is not None
            else "the last day's price move"
        ),
        lambda v: f"1-day return {_pct(v, digits=1)}" if v is not None else "1-day return",
    ),
    "ret_5": (
        lambda v: (
            f"the price {_up_down(v, 'rose', 'fell')} {_pct(abs(v or 0), False)} over the past week"
            if v is not None
            else "the past week's price move"
        ),
        lambda v: f"5-day return {_pct(v, digits=1)}" if v is not None else "5-day return",
    ),
    "ret_20": (
        lambda v: (
            f"the price {_up_down(v, 'rose', 'fell')} {_pct(abs(v or 0), False)} over the past month"
            if v is not None
            else "the past month's price move"
        ),
        lambda v: f"20-day momentum {_pct(v)}" if v is not None else "20-day momentum",
    ),
    "ret_60": (
        lambda v: (
            f"the price {_up_down(v, 'rose', 'fell')} {_pct(abs(v or 0), False)} over the past three months"
            if v is not None
            else "the past three months' price move"
        ),
        lambda v: f"60-day momentum {_pct(v)}" if v is not None else "60-day momentum",
    ),
    "rsi_14": (
        lambda v: (
            "the stock has risen fast lately and may be stretched"
            if (v or 50) >= 70
            else "the stock has fallen fast lately and may be oversold"
            if (v or 50) <= 30
            else "recent buying and selling have been balanced"
        ),
        lambda v: f"RSI {round(v)}" if v is not None else "RSI",
    ),
    "vol_20": (
        lambda v: "its price has been swinging a lot lately" if (v or 0) >= 0.4 else "its price has moved calmly lately",
        lambda v: f"20-day volatility {_pct(v or 0, False)} a year",
    ),
    "vol_60": (
        lambda v: (
            "its price has been swinging a lot these months" if (v or 0) >= 0.4 else "its price has moved calmly these months"
        ),
        lambda v: f"60-day volatility {_pct(v or 0, False)} a year",
    ),
    "dist_sma_20": (
        lambda v: f"it trades {_pct(abs(v or 0), False)} {_up_down(v, 'above', 'below')} its average price of the past month",
        lambda v: f"{_pct(v or 0, digits=1)} from the 20-day SMA",
    ),
    "dist_sma_50": (
        lambda v: f"it trades {_pct(abs(v or 0), False)} {_up_down(v, 'above', 'below')} its average price of the past ten weeks",
        lambda v: f"{_pct(v or 0, digits=1)} from the 50-day SMA",
    ),
    "dist_sma_200": (
        lambda v: f"it trades {_pct(abs(v or 0), False)} {_up_down(v, 'above', 'below')} its average price of the past year",
        lambda v: f"{_pct(v or 0, digits=1)} from the 200-day SMA",
    ),
    "macd_hist": (
        lambda v: f"its short-term trend is turning {_up_down(v, 'up', 'down')}",
        lambda v: f"MACD histogram {_pct(v or 0, digits=2)} of price",
    ),
    "rs_spy_20": (
        lambda v: f"it did {_up_down(v, 'better', 'worse')} than the overall market over the past month",
        lambda v: f"relative strength vs SPY {_pct(v or 0)} over 20 days",
    ),
    "rs_spy_60": (
        lambda v: f"it did {_up_down(v, 'better', 'worse')} than the overall market over the past three months",
        lambda v: f"relative strength vs SPY {_pct(v or 0)} over 60 days",
    ),
    "drawdown_60": (
        lambda v: f"it is {_pct(abs(v or 0), False)} below its high of the past three months",
        lambda v: f"60-day drawdown {_pct(v or 0)}",
    ),
    "volume_z_20": (
        lambda v: (
            "trading was unusually busy"
            if (v or 0) > 1
            else "trading was quieter than usual"
            if (v or 0) < -1
            else "trading volume was ordinary"
        ),
        lambda v: f"volume z-score {v:+.1f}" if v is not None else "volume z-score",
    ),
    "bb_pctb_20": (
        lambda v: (
            "the price is near the top of its usual range"
            if (v or 0.5) > 0.8
            else "the price is near the bottom of its usual range"
            if (v or 0.5) < 0.2
            else "the price is inside its usual range"
        ),
        lambda v: f"Bollinger %b {v:.2f}" if v is not None else "Bollinger %b",
    ),
    "beta_spy_60": (
        lambda v: "it tends to move more than the market" if (v or 1) > 1 else "it tends to move less than the market",
        lambda v: f"beta {v:.2f} to SPY" if v is not None else "beta to SPY",
    ),
}


def feature_phrase(name: str, value: float | None, *, experience: str) -> str:
    """One feature, worded for ``experience``. Unknown features fall back to their name (never for Beginners)."""
    base = name.removeprefix("rank_")
    ranked = name.startswith("rank_")
    phrases = _FEATURES.get(base)
    if experience == BEGINNER:
        if ranked:
            return f"how it compares with the other four stocks ({phrases[0](None) if phrases else 'recent price moves'})"
        return phrases[0](value) if phrases else "other recent price patterns"
    if ranked:
        label = phrases[1](None) if phrases else base
        return f"{label} rank {value:.2f} among the five" if value is not None else f"{label} rank among the five"
    if phrases:
        return phrases[1](value)
    return f"{name} {value:.3g}" if value is not None else name


def _drivers(f: Facts, experience: str) -> str:
    items = [(n, c) for n, c in f.contributions if c][:3]
    if not items:
        return ""
    parts = []
    for name, contribution in items:
        phrase = feature_phrase(name, f.feature_values.get(name), experience=experience)
        if experience == ADVANCED:
            phrase = f"{phrase} ({contribution:+.2f} log-odds)"
        elif experience == INTERMEDIATE:
            phrase = f"{phrase} (pointing {'up' if contribution > 0 else 'down'})"
        parts.append(phrase)
    joined = "; ".join(parts) if experience != BEGINNER else _and_join(parts)
    if experience == BEGINNER:
        return f"What weighed most: {joined}."
    return f"Main drivers: {joined}."


def _and_join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _risk_checks(f: Facts, experience: str) -> str:
    weight, limit = _pct(f.weight_after, False), _pct(f.max_weight, False)
    profile = f.profile
    if f.action == "HOLD":
        return _hold_reason(f, experience)
    verb = {"BUY": "buy", "SELL": "sell", "SHORT": "sell short", "COVER": "buy back"}.get(f.side, f.side.lower())
    size = f"{_shares(f.shares)} shares at about ${f.price:,.2f}"
    if experience == BEGINNER:
        first = f"We suggest you {verb} {size}."
        if f.side in ("SELL", "COVER"):
            return f"{first} {f.symbol} would then be {weight} of your money."
        inside = f"inside the {limit} most a {profile} investor puts in one stock"
        return f"{first} {f.symbol} would then be {weight} of your money, {inside}."
    text = (
        f"Suggested: {verb} {size}; the position would reach {weight} of your portfolio, inside your {profile} limit of {limit}."
    )
    if experience == ADVANCED:
        # The trade to a target weight: no Kelly size was computed (Kelly only bounds the policy's tilt).
        text += (
            f" Trade to the policy's target of {_pct(float(f.policy.get('weight', 0.0)), False)};"
            f" portfolio 1-day 95 % VaR after the trade {_pct(f.var_after_pct, False, 2)}"
            f" of a {_pct(f.var_budget_pct, False, 1)} budget"
            f"{_binding(f.reason)}."
        )
    return text


def _personal_size(f: Facts, experience: str) -> str:
    """Why the size is below what the risk limits allowed, when personalisation shrank it ("" otherwise)."""
    if f.action == "HOLD" or not 0 < f.shares < f.personal_base_shares:
        return ""
    n, base = _shares(f.shares), _shares(f.personal_base_shares)
    if experience == BEGINNER:
        return (
            f"We sized it down to {n} shares, from the {base} your limits would allow,"
            " because you usually take smaller amounts than we suggest."
        )
    if experience == INTERMEDIATE:
        return f"Sized down to {n} shares (your limits allowed {base}) because you usually take smaller positions than suggested."
    return (
        f"Sized down to {n} shares from {base} (learned size scale {f.personal_size_scale:.2f})"
        " because you usually take smaller positions than suggested."
    )


def _shares(shares: float) -> str:
    return f"{shares:,.4f}".rstrip("0").rstrip(".")


def _binding(reason: str) -> str:
    return {
        "weight_limit": "; capped by the position weight limit",
        "var_budget": "; capped by the VaR budget",
        "cash": "; capped by available cash",
    }.get(reason, "")


_HOLD_TEXT: dict[str, tuple[str, str]] = {
    # reason -> (beginner, expert); {profile}, {limit}, {symbol} are filled in.
    "no_edge": (
        "The signal is not strong enough to act on for a {profile} investor, so we suggest doing nothing today.",
        "Not strong enough to act on for your {profile} profile: hold.",
    ),
    "no_equity": (
        "Your portfolio has no money in it yet, so there is nothing to suggest.",
        "The portfolio has no value to size against: hold.",
    ),
    "weight_limit": (
        "{symbol} is already as large a part of your money as a {profile} investor should hold ({limit}).",
        "The position is at your {profile} limit of {limit} of the portfolio: hold.",
    ),
    "var_budget": (
        "Your portfolio already carries as much short-term risk as your {profile} profile allows.",
        "The portfolio's 1-day 95 % VaR budget ({budget}) is used up: hold.",
    ),
    "cash": (
        "You have no spare cash for this purchase.",
        "No available cash for the trade (no margin): hold.",
    ),
    "too_small": (
        "The suggested amount rounds down to nothing, so we suggest doing nothing today.",
        "The size rounds down to zero shares: hold.",
    ),
    "min_trade": (
        "You already hold about the right amount of {symbol}; a small change is not worth the costs.",
        "The position is within the minimum trade of its target: hold.",
    ),
    "not_in_target": (
        "We suggest not owning {symbol} right now; nothing to do since you hold none.",
        "Target 0 % and nothing held: no trade.",
    ),
    # min_trade when nothing is held: the target is too small a purchase to be worth its costs.
    "min_trade_none_held": (
        "We would suggest only a very small amount of {symbol}, too small to be worth the costs, so nothing today.",
        "The target is below the minimum trade and nothing is held: hold.",
    ),
}


def _hold_reason(f: Facts, experience: str) -> str:
    key = "min_trade_none_held" if f.reason == "min_trade" and f.weight_before == 0 else f.reason
    beginner, expert = _HOLD_TEXT.get(key, _HOLD_TEXT["no_edge"])
    template = beginner if experience == BEGINNER else expert
    return template.format(
        profile=f.profile,
        limit=_pct(f.max_weight, False),
        symbol=f.symbol,
        budget=_pct(f.var_budget_pct, False, 1),
    )


def _why_policy(f: Facts, experience: str) -> str:
    """What drove the policy's target: volatility, the trend filter, the drawdown brake or the model tilt."""
    pol = f.policy
    driver = str(pol.get("driver", ""))
    target = float(pol.get("weight", 0.0))
    vol, before = float(pol.get("volatility", 0.0)), float(pol.get("volatility_before", float("nan")))
    target_vol = float(pol.get("target_vol", 0.0))
    tilt = float(pol.get("tilt", 0.0))
    trend = float(pol.get("trend", 0.0))
    beginner = experience == BEGINNER
    tpct, tv = _pct(target, False), _pct(target_vol, False)
    if driver == "brake":
        if beginner:
            fall = _pct(-float(pol.get("drawdown", 0.0)), False)
            return (
                f"Our model portfolio has fallen {fall} from its high, so we are taking less risk everywhere until it recovers."
            )
        return (
            f"Drawdown brake: the policy portfolio is {_pct(float(pol.get('drawdown', 0.0)))} from its peak,"
            f" so every position is scaled to {_pct(float(pol.get('brake', 1.0)), False)}; target for {f.symbol} {tpct}."
        )
    if driver == "trend_off":
        if beginner:
            return (
                f"{f.symbol} has been falling: its price is below its recent averages, so we suggest holding none of it for now."
            )
        return (
            f"Trend filter: none of {f.symbol}'s trend checks is positive (close against its 50- and 200-day averages,"
            " 6-month return, as far as its history reaches); target 0 %."
        )
    if driver in ("vol_up", "vol_down") and math.isfinite(before) and before > 0:
        ratio = vol / before
        if beginner:
            word = "much bigger" if ratio > 1 else "much smaller"
            return f"{f.symbol}'s expected price swings have become {word} in the last two weeks, so we adjust how much you hold."
        change = f"{'rose' if ratio > 1 else 'fell'} from {_pct(before, False)} to {_pct(vol, False)}"
        return (
            f"{f.symbol}'s forecast volatility {change} a year in ten sessions;"
            f" the target of {tpct} keeps your {f.profile} {tv} volatility target."
        )
    if driver == "tilt":
        hit = f", out-of-fold hit rate {_pct(f.model_hit_rate, False)} on this symbol" if math.isfinite(f.model_hit_rate) else ""
        if beginner:
            lean, size = ("up", "larger") if tilt > 0 else ("down", "smaller")
            return f"Our model has a small, proven edge on {f.symbol} and leans {lean}, so the target is a little {size}."
        return f"Model tilt {_pct(tilt)}: probability {f.p_up:.2f}{hit}; target {tpct}."
    if beginner:
        part = " (trend partly positive)" if 0 < trend < 1 else ""
        return f"We spread risk evenly: {f.symbol} gets {tpct} of your money{part}, sized to how much its price usually moves."
    part = f", trend score {trend:.2f}" if 0 < trend < 1 else ""
    return (
        f"Risk budget: {f.symbol} forecast volatility {_pct(vol, False)} a year{part};"
        f" target {tpct} of the portfolio for a {f.profile} {tv} volatility target."
    )


def _trim(f: Facts, experience: str) -> str:
    """Why a SELL trims a position that is above the profile's per-position limit ("" for any other card)."""
    if f.action != "SELL" or f.reason != "weight_limit":
        return ""
    limit = _pct(f.max_weight, False)
    if math.isfinite(f.weight_before):
        # Just above the limit would round to the limit itself: show the decimal then.
        before = _pct(f.weight_before, False, 0 if round(f.weight_before * 100) > round(f.max_weight * 100) else 1)
    else:
        before = "more than that"
    if experience == BEGINNER:
        return (
            f"{f.symbol} has grown to {before} of your money, more than the {limit} a {f.profile} investor"
            " should hold in one stock, so we suggest selling some."
        )
    return f"Trim: {f.symbol} is {before} of your portfolio, above your {f.profile} limit of {limit} for one position."


def _no_edge_note(f: Facts, experience: str) -> str:
    if f.model_skill > 0:
        return ""
    if experience == BEGINNER:
        return "Our prediction model has not shown a reliable edge, so it does not change this suggestion."
    return "No direction-model edge found out of sample: no tilt (risk-only policy)."


def reasoning_text(facts: Facts, *, experience: str) -> str:
    """The full reason: a trim above the cap, what drove the policy's target, what the risk checks did, the model's
    top features when it has a demonstrated edge (else a note that it has none), and a size personalisation shrank."""
    if experience not in (BEGINNER, INTERMEDIATE, ADVANCED):
        experience = BEGINNER  # the safest wording when the level is unknown
    parts = [
        _trim(facts, experience),
        _why_policy(facts, experience),
        _risk_checks(facts, experience),
        _no_edge_note(facts, experience),
        _drivers(facts, experience) if facts.model_skill > 0 else "",
        _personal_size(facts, experience),
    ]
    return " ".join(p for p in parts if p)
