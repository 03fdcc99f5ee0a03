"""Replaying trading days with simulated users through the real services, one session at a time.

For each session ``t`` of the replay (see :func:`simulation_run`):

1. *nightly retraining* (every ``retrain_every`` sessions, and before the first): the models are trained by
   :func:`learning.services.training.models_train` with ``until`` = the session before ``t``, so every label
   the model learned from ends on a close before ``t``; the promotion gate decides whether the candidate
   replaces the active version, as in production;
2. *after the close of t*: outcomes whose horizon ends on ``t`` are scored and unanswered cards expired
   (:func:`recommendations_evaluate`); the active ensemble's signals for ``t`` (:func:`signals_for`, features
   from bars up to ``t``) are generated into recommendations (:func:`recommendations_generate`) for every
   simulated user, with personalisation on for the personalised users and off for the control group;
3. each user answers their cards in the order shown (priority, then symbol), up to the persona's attention,
   through :func:`recommendation_respond` (accepting executes the paper trade); the persona sees only what the
   card shows;
4. *nightly learning*: the learned profiles and the bandit's statistics are recomputed from every answer so far
   (the bandit therefore learns after every session); the acceptance model, which no longer orders the cards, is
   retrained every ``acceptance_every`` sessions.

After the last session, the remaining outcomes are scored on the following sessions' closes (no new
recommendation is made then). Each persona's ``i``-th control user draws the same random numbers as its
``i``-th personalised user, so the two groups differ only in what personalisation did.
"""

from __future__ import annotations

import logging
import time as walltime
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import numpy as np
from django.db.models import Max
from django.test.utils import override_settings

from accounts.models import User
from market import calendar
from market.models import PriceBar
from market.symbols import TRADABLE
from portfolios.models import TradeSource
from portfolios.services import cash_deposit
from quantai.errors import ApplicationError, Conflict
from quantai.flags import Flag, flag_enabled
from recommendations import selectors
from recommendations.acceptance import acceptance_model_train
from recommendations.core.learned_profile import DECISION_ACTIONS
from recommendations.model_signals import SignalBatch, signals_for
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendation_respond, recommendations_evaluate, recommendations_generate
from recommendations.services.personalise import preference_profiles_recompute
from recommendations.simulation.personas import Card, Persona
from recommendations.simulation.sandbox import simulated_clock

logger = logging.getLogger(__name__)

USER_PREFIX = "sim-"
CONTROL_PREFIX = "sim-ctl-"
DEFAULT_MODELS = ("rf", "xgb")
#: Trees of rf and xgb in a replay: the policy needs no model to make cards, and the tilt is skill-scaled anyway.
DEFAULT_TREES = 60

#: ``progress(done, total, text)`` after each session.
Progress = Callable[[int, int, str], None]


class SimulationError(Conflict):
    code = "simulation_not_possible"


@dataclass(frozen=True)
class SimulationConfig:
    users: int
    days: int
    start: date
    personas: list[Persona]
    seed: int = 0
    retrain_every: int = 20
    models: tuple[str, ...] = DEFAULT_MODELS
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    eval_folds: int = 1
    starting_cash: Decimal = Decimal("100000.00")
    control: bool = True
    #: Sessions between trainings of the acceptance model (the bandit and the profiles learn after every session).
    acceptance_every: int = 5


@dataclass
class SimUser:
    user: User
    persona: Persona
    personalised: bool
    rng: np.random.Generator


@dataclass
class SimulationResult:
    config: SimulationConfig
    sessions: list[date]
    users: list[SimUser]
    retrains: list[dict[str, Any]] = field(default_factory=list)
    refused_trades: int = 0
    generation_notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class SignalSource(Protocol):
    """Where the day's model signals come from: retrain (when due) before a session, then the signals of it."""

    def prepare(self, *, day: date, index: int) -> dict[str, Any] | None: ...

    def signals(self, day: date) -> SignalBatch: ...


class ModelSignals:
    """The production path: ``models_train`` on the nightly schedule, then :func:`signals_for` (the active ensemble)."""

    def __init__(
        self, *, models: tuple[str, ...], retrain_every: int, eval_folds: int = 1, model_params: dict[str, Any] | None = None
    ) -> None:
        self.models = models
        self.retrain_every = max(1, retrain_every)
        self.eval_folds = eval_folds
        self.model_params = model_params or {}

    def prepare(self, *, day: date, index: int) -> dict[str, Any] | None:
        if index % self.retrain_every:
            return None
        from learning.models import RunStatus
        from learning.services.training import models_train

        until = calendar.previous_trading_day(day)
        overrides: dict[str, Any] = {"LEARNING_EVAL_FOLDS": self.eval_folds}
        if self.model_params:
            overrides["LEARNING_MODEL_PARAMS"] = self.model_params
        started = walltime.perf_counter()
        with override_settings(**overrides):
            run = models_train(until=until, kinds=list(self.models))
        if run.status == RunStatus.FAILED:
            raise SimulationError(f"training for {day} failed: {run.error}")
        versions = (run.result or {}).get("versions", {})
        ensemble = versions.get("ensemble", {})
        return {
            "before": day.isoformat(),
            "trained_until": until.isoformat(),
            "status": run.status,
            "promoted": ensemble.get("promoted"),
            "reason": ensemble.get("reason") or run.error or "",
            "seconds": round(walltime.perf_counter() - started, 1),
        }

    def signals(self, day: date) -> SignalBatch:
        return signals_for(day)


class RiskOnlySignals:
    """No direction model: every card comes from the risk-first policy alone (``--models none``; the fastest replay).

    The policy needs no model to make cards: without one it sizes every symbol by volatility, trend and the drawdown
    brake, and the card says so. Personalisation is measured the same way, with or without a model.
    """

    def prepare(self, *, day: date, index: int) -> dict[str, Any] | None:
        return None

    def signals(self, day: date) -> SignalBatch:
        return SignalBatch(date=day, signals={}, missing={s: "no direction model in this replay" for s in TRADABLE})


def replay_sessions(start: date, days: int) -> list[date]:
    """The first ``days`` NYSE sessions on or after ``start``."""
    if days < 1:
        raise SimulationError("simulate at least one day")
    first = start if calendar.is_trading_day(start) else calendar.next_trading_day(start)
    return [calendar.add_trading_days(first, k) for k in range(days)]


def _check_database(sessions: list[date]) -> None:
    if User.objects.filter(username__startswith=USER_PREFIX).exists():
        raise SimulationError("this database already holds simulated users (sim-*): run on a fresh database")
    if User.objects.exclude(username__startswith=USER_PREFIX).exists():
        # Evaluation, expiry and model promotion are global: a replay must never act on real users' rows.
        raise SimulationError("this database holds real users: simulate in a sandbox (the default), not in place")
    last = PriceBar.objects.filter(symbol__in=TRADABLE).aggregate(d=Max("date"))["d"]
    if last is None:
        raise SimulationError("no prices stored: load prices first, or pass --prices DIR")
    if last < sessions[0]:
        raise SimulationError(f"the stored prices end on {last}, before the first simulated session {sessions[0]}")


def _users(config: SimulationConfig) -> list[SimUser]:
    """``config.users`` personalised users spread over the personas in turn, and as many control users if asked."""
    out: list[SimUser] = []
    groups = [(USER_PREFIX, True)] + ([(CONTROL_PREFIX, False)] if config.control else [])
    for i in range(config.users):
        persona = config.personas[i % len(config.personas)]
        for prefix, personalised in groups:
            user = User.objects.create(
                username=f"{prefix}{persona.name}-{i + 1:03d}",
                email=f"{prefix}{persona.name}-{i + 1:03d}@simulation.invalid",
                risk_tolerance=persona.risk_tolerance,
                investment_experience=persona.experience,
                is_active=True,
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            cash_deposit(
                user=user,
                amount=config.starting_cash,
                idempotency_key=f"simulation-start-{user.pk}",
                source=TradeSource.ONBOARDING,
            )
            # The same stream for a persona's i-th user in both groups: they differ only by personalisation.
            rng = np.random.default_rng(np.random.SeedSequence([config.seed, i]))
            out.append(SimUser(user=user, persona=persona, personalised=personalised, rng=rng))
    return out


def _answer_day(sim: SimUser, day: date) -> int:
    """``sim`` reads its cards of ``day`` in the order shown, up to its attention; returns refused trades.

    What a person does with the page: a folded card ("below what you usually act on") stays closed and is not
    read; a HOLD is read (it takes attention) but asks nothing, so it is not answered; a BUY or SELL is answered
    as the persona would. The same rules hold for the control group, whose cards are in symbol order, unfolded.
    """
    cards = list(selectors.recommendations_for_user(user=sim.user, trading_date=day, status=RecommendationStatus.PENDING))
    cards = [rec for rec in cards if not ((rec.model_features or {}).get("personalisation") or {}).get("folded")]
    limit = sim.persona.attention if sim.persona.attention is not None else len(cards)
    refused = 0
    for rec in cards[:limit]:
        if rec.recommendation_type not in DECISION_ACTIONS:
            continue  # information: nothing to accept or reject
        card = Card.of(rec)
        answer = sim.persona.answer(card, sim.rng)
        if answer.accept:
            try:
                recommendation_respond(user=sim.user, recommendation_id=rec.pk, accept=True, shares=answer.shares)
                continue
            except ApplicationError as exc:  # e.g. the day's earlier purchases used the cash: the user cannot accept
                logger.info("simulated accept of %s refused: %s", rec.pk, exc)
                refused += 1
        recommendation_respond(user=sim.user, recommendation_id=rec.pk, accept=False)
    return refused


def simulation_run(
    *, config: SimulationConfig, source: SignalSource | None = None, progress: Progress | None = None
) -> SimulationResult:
    """Replay ``config.days`` sessions from ``config.start`` in the current database (see the module docstring).

    The database must hold prices up to the sessions replayed (and the horizon after them, for the last
    outcomes) and no simulated users yet. Raises :class:`SimulationError` when it cannot run.
    """
    from learning import predictor

    started = walltime.perf_counter()
    sessions = replay_sessions(config.start, config.days)
    _check_database(sessions)
    if source is None and not config.models:
        source = RiskOnlySignals()
    source = source or ModelSignals(
        models=config.models, retrain_every=config.retrain_every, eval_folds=config.eval_folds, model_params=config.model_params
    )
    flags_on = {**_flags(), Flag.PERSONALISED_RECOMMENDATIONS.value: True}
    flags_off = {**flags_on, Flag.PERSONALISED_RECOMMENDATIONS.value: False}
    predictor.clear_cache()
    with simulated_clock(calendar.previous_trading_day(sessions[0])) as clock, override_settings(FEATURE_FLAGS=flags_on):
        if not flag_enabled(Flag.PERSONALISED_RECOMMENDATIONS):
            raise SimulationError("an operator switch turns personalisation off in this database; remove it or use a sandbox")
        users = _users(config)
        result = SimulationResult(config=config, sessions=sessions, users=users)
        user_ids = [s.user.pk for s in users]
        for index, day in enumerate(sessions):
            clock.set_day(calendar.previous_trading_day(day))  # the night before: training sees bars up to then
            retrain = source.prepare(day=day, index=index)
            if retrain is not None:
                result.retrains.append(retrain)
            clock.set_day(day)
            recommendations_evaluate(as_of=day)
            batch = source.signals(day)
            for personalised in (True, False):
                group = [s.user for s in users if s.personalised is personalised]
                if not group:
                    continue
                with override_settings(FEATURE_FLAGS=flags_on if personalised else flags_off):
                    generated = recommendations_generate(date=day, users=group, signals=batch)
                if generated.reason and personalised:
                    result.generation_notes.append(generated.describe())
            for sim in users:
                result.refused_trades += _answer_day(sim, day)
            preference_profiles_recompute(user_ids=user_ids)
            if (index + 1) % max(1, config.acceptance_every) == 0:
                acceptance_model_train(seed=config.seed)
            if progress:
                progress(index + 1, len(sessions), f"{day}")
        _score_remaining(sessions[-1], clock)
    predictor.clear_cache()
    result.seconds = walltime.perf_counter() - started
    return result


def _flags() -> dict[str, bool]:
    from django.conf import settings

    return dict(getattr(settings, "FEATURE_FLAGS", {}))


def _score_remaining(last: date, clock: Any) -> None:
    """Score what is still due, on the closes of the sessions after ``last`` that are stored (outcomes only)."""
    due = Recommendation.objects.filter(user__username__startswith=USER_PREFIX, outcome_evaluated=False)
    horizon_end = due.aggregate(d=Max("evaluate_on"))["d"]
    if horizon_end is None:
        return
    for day in calendar.sessions(calendar.next_trading_day(last), horizon_end):
        clock.set_day(day)
        recommendations_evaluate(as_of=day)


def simulation_prices_load(*, directories: list[str]) -> list[str]:
    """Load the five stocks' and SPY's bars from CSV directories (``{SYMBOL}.csv``) into the current database.

    A symbol missing from one directory may come from another; returns one line per symbol loaded. Raises
    :class:`SimulationError` when a symbol is in none of them or a file is bad.
    """
    from market.providers import get_provider
    from market.services import prices_load
    from market.symbols import ALL_SYMBOLS

    lines: list[str] = []
    missing = set(ALL_SYMBOLS)
    problems: dict[str, str] = {}
    for directory in directories:
        wanted = sorted(missing)
        if not wanted:
            break
        for summary in prices_load(provider=get_provider("csv", path=directory), symbols=wanted):
            if summary.ok and summary.rows:
                missing.discard(summary.symbol)
                lines.append(summary.describe())
            else:
                problems[summary.symbol] = summary.error or summary.skipped or "no bars"
    if missing:
        detail = "; ".join(f"{s}: {problems.get(s, 'not found')}" for s in sorted(missing))
        raise SimulationError(f"prices missing from {', '.join(directories)}: {detail}")
    return lines


def simulation_prices_copy(rows: list[dict[str, Any]]) -> int:
    """Store bars read from another database (``PriceBar.values()`` rows without ids); returns how many."""
    PriceBar.objects.bulk_create([PriceBar(**{k: v for k, v in r.items() if k != "id"}) for r in rows], batch_size=2000)
    return len(rows)


#: Sessions of history kept before the first replayed session (sandbox only): the GARCH window (1,000 returns),
#: the trend filter (200) and the risk-only base rate (504) all fit; older bars only slow every day's forecasts.
DEFAULT_HISTORY_SESSIONS = 1300


def simulation_prices_trim(*, start: date, sessions: int = DEFAULT_HISTORY_SESSIONS) -> int:
    """Delete the bars older than ``sessions`` sessions before ``start`` (in the throwaway sandbox only); returns how many.

    The volatility forecasts refit on the trailing 1,000 returns at the first session of each month, anchored to the
    calendar, so a history that still holds that window gives the replayed days the same forecasts, at a fraction
    of the cost (the forecasts are recomputed over the whole stored history every day).
    """
    first = start if calendar.is_trading_day(start) else calendar.next_trading_day(start)
    cutoff = calendar.add_trading_days(first, -sessions)
    deleted, _ = PriceBar.objects.filter(date__lt=cutoff).delete()
    return int(deleted)
