"""Simulated investors: hidden preferences, and how a persona answers a recommendation card.

Persona file schema (JSON): either a list of persona objects or ``{"personas": [...]}``. One object:

| key | type | default | meaning |
|---|---|---|---|
| ``name`` | str, ``[a-z0-9-]``, required | | names the simulated users (``sim-<name>-<n>``) |
| ``risk_tolerance`` | ``Conservative`` / ``Moderate`` / ``Aggressive`` | ``Moderate`` | the stated profile the engine sizes for |
| ``experience`` | ``Beginner`` / ``Intermediate`` / ``Advanced`` | ``Intermediate`` | wording of the reasons |
| ``base_acceptance`` | float in (0, 1) | 0.5 | P(accept) of a card no other rule speaks to |
| ``symbol_adjustments`` | ``{symbol: float}`` | ``{}`` | added to the log-odds for that symbol (+1 ≈ much likelier) |
| ``action_adjustments`` | ``{"BUY"/"SELL"/"HOLD": float}`` | ``{}`` | added to the log-odds for that action |
| ``min_confidence`` | float in [0, 1] | 0 | cards with a lower confidence are rejected |
| ``max_risk_score`` | float in [0, 1] | 1 | cards with a higher risk score are rejected |
| ``size_fraction`` | float in (0, 1] | 1 | an accepted trade is executed with this share of the recommended shares |
| ``attention`` | int >= 1 or ``null`` | ``null`` | answers the first N cards of the day as shown; the rest expire |
| ``noise`` | float in [0, 1] | 0.1 | with this probability the answer is a coin flip instead |

The hidden preferences are never given to the engine: it only sees the answers (and the shares actually
traded), through the same respond service a person uses. A persona decides from what a card shows (symbol,
action, confidence, risk score, size); it never sees prices after the card's day.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from accounts.models import InvestmentExperience, RiskTolerance
from market.symbols import TRADABLE
from quantai.errors import ValidationFailed
from recommendations.core.learned_profile import DECISION_ACTIONS
from recommendations.models import Recommendation, RecommendationType

DEFAULT_PERSONAS_FILE = Path(__file__).with_name("default_personas.json")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SHARE = Decimal("0.0001")
ACTIONS = tuple(RecommendationType.values)
KNOWN_KEYS = frozenset(
    {
        "name",
        "description",
        "risk_tolerance",
        "experience",
        "base_acceptance",
        "symbol_adjustments",
        "action_adjustments",
        "min_confidence",
        "max_risk_score",
        "size_fraction",
        "attention",
        "noise",
    }
)


@dataclass(frozen=True)
class Card:
    """What a simulated user sees of one recommendation (nothing about what happened afterwards)."""

    symbol: str
    action: str
    trade_side: str
    confidence: float
    risk_score: float
    shares: Decimal

    @classmethod
    def of(cls, rec: Recommendation) -> Card:
        """What ``rec``'s card shows."""
        return cls(
            symbol=rec.symbol,
            action=rec.recommendation_type,
            trade_side=rec.trade_side,
            confidence=float(rec.confidence_score),
            risk_score=float(rec.risk_score or 0),
            shares=rec.recommended_shares,
        )


@dataclass(frozen=True)
class Answer:
    accept: bool
    shares: Decimal | None = None  # None: the recommended size


@dataclass(frozen=True)
class Persona:
    """One kind of simulated investor (see the module docstring for each field)."""

    name: str
    risk_tolerance: str = RiskTolerance.MODERATE.value
    experience: str = InvestmentExperience.INTERMEDIATE.value
    base_acceptance: float = 0.5
    symbol_adjustments: dict[str, float] = field(default_factory=dict)
    action_adjustments: dict[str, float] = field(default_factory=dict)
    min_confidence: float = 0.0
    max_risk_score: float = 1.0
    size_fraction: float = 1.0
    attention: int | None = None
    noise: float = 0.1
    description: str = ""

    def acceptance_probability(self, card: Card) -> float:
        """P(accept) of ``card`` before noise: 0 when a hard rule rejects it, else the adjusted base rate."""
        if card.confidence < self.min_confidence or card.risk_score > self.max_risk_score:
            return 0.0
        log_odds = _logit(self.base_acceptance)
        log_odds += self.symbol_adjustments.get(card.symbol, 0.0) + self.action_adjustments.get(card.action, 0.0)
        return 1.0 / (1.0 + math.exp(-log_odds))

    def answer(self, card: Card, rng: np.random.Generator) -> Answer:
        """Accept or reject ``card``; two draws from ``rng`` per card whatever the outcome (reproducible streams)."""
        noisy, draw = rng.random(), rng.random()
        accept = draw < 0.5 if noisy < self.noise else draw < self.acceptance_probability(card)
        if not accept:
            return Answer(False)
        if card.trade_side and self.size_fraction < 1.0 and card.shares > 0:
            shares = (card.shares * Decimal(repr(self.size_fraction))).quantize(SHARE, rounding=ROUND_DOWN)
            if shares > 0:
                return Answer(True, shares)
        return Answer(True)

    def hidden(self) -> dict[str, Any]:
        """The hidden preferences, for the report."""
        return {
            "risk_tolerance": self.risk_tolerance,
            "experience": self.experience,
            "base_acceptance": self.base_acceptance,
            "symbol_adjustments": dict(self.symbol_adjustments),
            "action_adjustments": dict(self.action_adjustments),
            "min_confidence": self.min_confidence,
            "max_risk_score": self.max_risk_score,
            "size_fraction": self.size_fraction,
            "attention": self.attention,
            "noise": self.noise,
        }


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"personas": [message]})


def _number(data: dict[str, Any], key: str, default: float, low: float, high: float, where: str) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"{where}: {key} must be a number")
    if not low <= float(value) <= high:
        raise _bad(f"{where}: {key} must be between {low} and {high}")
    return float(value)


def _adjustments(data: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> dict[str, float]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _bad(f"{where}: {key} must be an object")
    out = {}
    for name in value:
        if name not in allowed:
            raise _bad(f"{where}: {key} has {name!r}; use {', '.join(allowed)}")
        out[name] = _number(value, name, 0.0, -20.0, 20.0, f"{where}.{key}")
    return out


def persona_from_dict(data: Any, *, index: int = 0) -> Persona:
    """One persona from its JSON object; raises :class:`ValidationFailed` naming the persona and the field."""
    if not isinstance(data, dict):
        raise _bad(f"persona #{index + 1} must be an object")
    name = data.get("name")
    where = f"persona {name!r}" if isinstance(name, str) else f"persona #{index + 1}"
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _bad(f"{where}: name must be 1-40 characters of a-z, 0-9 and '-'")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise _bad(f"{where}: unknown field(s) {', '.join(unknown)}")
    risk = data.get("risk_tolerance", RiskTolerance.MODERATE.value)
    if risk not in RiskTolerance.values:
        raise _bad(f"{where}: risk_tolerance must be one of {', '.join(RiskTolerance.values)}")
    experience = data.get("experience", InvestmentExperience.INTERMEDIATE.value)
    if experience not in InvestmentExperience.values:
        raise _bad(f"{where}: experience must be one of {', '.join(InvestmentExperience.values)}")
    attention = data.get("attention")
    if attention is not None and (isinstance(attention, bool) or not isinstance(attention, int) or attention < 1):
        raise _bad(f"{where}: attention must be a whole number >= 1 or null")
    return Persona(
        name=name,
        description=str(data.get("description", "")),
        risk_tolerance=risk,
        experience=experience,
        base_acceptance=_number(data, "base_acceptance", 0.5, 0.001, 0.999, where),
        symbol_adjustments=_adjustments(data, "symbol_adjustments", TRADABLE, where),
        action_adjustments=_adjustments(data, "action_adjustments", ACTIONS, where),
        min_confidence=_number(data, "min_confidence", 0.0, 0.0, 1.0, where),
        max_risk_score=_number(data, "max_risk_score", 1.0, 0.0, 1.0, where),
        size_fraction=_number(data, "size_fraction", 1.0, 0.01, 1.0, where),
        attention=attention,
        noise=_number(data, "noise", 0.1, 0.0, 1.0, where),
    )


def personas_from_json(data: Any) -> list[Persona]:
    """Personas from parsed JSON (a list, or an object with a ``personas`` list); names must be unique."""
    items = data.get("personas") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise _bad('the persona file must hold a non-empty list of personas (or {"personas": [...]})')
    personas = [persona_from_dict(item, index=i) for i, item in enumerate(items)]
    names = [p.name for p in personas]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _bad(f"persona names must be unique: {', '.join(duplicates)}")
    return personas


#: How :func:`random_personas` draws one persona (probabilities of having each rule, and the ranges drawn from).
RANDOM_SYMBOL_PROBABILITY = 0.7  # each stock gets an adjustment, N(0, 1) log-odds
RANDOM_ACTION_PROBABILITY = 0.6  # BUY and SELL each get one, N(0, 0.7)
RANDOM_MIN_CONFIDENCE = (0.5, 0.5, 0.6)  # (probability, low, high): a minimum confidence drawn from U(low, high)
RANDOM_MAX_RISK = (0.4, 0.3, 0.8)  # the same for a maximum risk score
RANDOM_ATTENTION = (0.6, 2, 5)  # (probability, fewest, most cards read a day); else every card


def random_personas(seed: int, count: int = 5) -> list[Persona]:
    """``count`` personas whose hidden preferences are drawn at random from ``seed`` (the same seed, the same set).

    A check against persona sets nobody has tuned on: the built-in set is the one every change was measured with.
    Each persona draws its stated profile (risk tolerance, experience) uniformly; a base acceptance from
    U(0.3, 0.7); symbol and action adjustments, a minimum confidence, a maximum risk score and an attention limit
    each with the probability and range of the ``RANDOM_*`` constants above; a size fraction from U(0.3, 1) and
    noise from U(0.05, 0.2). Names are ``random<seed>-<k>``. Every value is within what a persona file may hold.
    """
    if count < 1:
        raise _bad("draw at least one persona")
    if seed < 0:
        raise _bad("the seed of random personas must be 0 or more")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7_919]))
    personas = []
    for k in range(count):
        symbols = {s: round(float(rng.normal(0.0, 1.0)), 2) for s in TRADABLE if rng.random() < RANDOM_SYMBOL_PROBABILITY}
        actions = {a: round(float(rng.normal(0.0, 0.7)), 2) for a in DECISION_ACTIONS if rng.random() < RANDOM_ACTION_PROBABILITY}
        chance, low, high = RANDOM_MIN_CONFIDENCE
        min_confidence = round(float(rng.uniform(low, high)), 3) if rng.random() < chance else 0.0
        chance, low, high = RANDOM_MAX_RISK
        max_risk = round(float(rng.uniform(low, high)), 2) if rng.random() < chance else 1.0
        chance, fewest, most = RANDOM_ATTENTION
        attention = int(rng.integers(fewest, most + 1)) if rng.random() < chance else None
        personas.append(
            persona_from_dict(
                {
                    "name": f"random{seed}-{k + 1}",
                    "description": f"drawn at random (seed {seed})",
                    "risk_tolerance": str(rng.choice(RiskTolerance.values)),
                    "experience": str(rng.choice(InvestmentExperience.values)),
                    "base_acceptance": round(float(rng.uniform(0.3, 0.7)), 2),
                    "symbol_adjustments": symbols,
                    "action_adjustments": actions,
                    "min_confidence": min_confidence,
                    "max_risk_score": max_risk,
                    "size_fraction": round(float(rng.uniform(0.3, 1.0)), 2),
                    "attention": attention,
                    "noise": round(float(rng.uniform(0.05, 0.2)), 2),
                },
                index=k,
            )
        )
    return personas


def load_personas(path: str | Path | None = None) -> list[Persona]:
    """Personas from ``path`` (default: the built-in set, :data:`DEFAULT_PERSONAS_FILE`)."""
    file = Path(path) if path is not None else DEFAULT_PERSONAS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(f"cannot read {file}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise _bad(f"{file} is not JSON: line {exc.lineno}: {exc.msg}") from None
    return personas_from_json(data)
