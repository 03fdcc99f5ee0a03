"""Personalisation's writes and its hook into generation (behind ``Flag.PERSONALISED_RECOMMENDATIONS``).

- :func:`preference_profiles_recompute` learns each user's profile and their bandit statistics from their answers to
  the cards that asked for a decision (BUY, SELL), after their last reset (nightly, and after every simulated day).
- :func:`preference_profile_reset` forgets what was learned about a user (the Settings page's "reset").
- :class:`Personaliser` is what :func:`recommendations.services.generate.recommendations_generate` uses when the
  flag is on: it shrinks risk-increasing sizes by the user's learned scale (never above what sizing allowed) and
  lets the contextual bandit (:mod:`recommendations.core.bandit`) order the day's cards and fold the ones below what the
  user usually acts on: risk-rule sales of held shares first and never folded, then the decision cards by their
  Thompson-sampled P(accept), then the folded ones, then the HOLDs (information, nothing to answer). The bandit's
  prior is the population's: the pooled statistics of the users who answered the questionnaire the same way (the
  user's own answers left out), so a new user starts where people like them are.
  ``model_features["personalisation"]`` records the scores, the fold, the source and the size adaptation.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from quantai.flags import Flag, flag_enabled
from recommendations.acceptance import acceptance_model_load, answers_frame, sizing_equity
from recommendations.core import bandit, sizing
from recommendations.core import learned_profile as pers
from recommendations.core.acceptance_model import AcceptanceModel
from recommendations.models import Recommendation, RecommendationStatus, UserPreferenceProfile

if TYPE_CHECKING:  # answers frames are built by acceptance.answers_frame, which imports pandas itself
    import pandas as pd

logger = logging.getLogger(__name__)

FRACTION = Decimal("0.0001")


def _fraction(value: float) -> Decimal:
    return min(Decimal(1), max(Decimal(0), Decimal(repr(float(value))).quantize(FRACTION, rounding=ROUND_HALF_EVEN)))


def _optional_fraction(value: float | None) -> Decimal | None:
    return None if value is None else _fraction(value)


def bandit_stats(answers: pd.DataFrame) -> bandit.ArmStats:
    """The bandit's statistics of one user's answers (columns of :func:`~recommendations.acceptance.answers_frame`):
    what :meth:`~recommendations.core.bandit.ArmStats.update` would build answer by answer, as two matrix products."""
    if answers.empty:
        return bandit.ArmStats()
    xs = np.vstack(
        [
            bandit.context_vector(
                symbol=str(symbol), action=str(action), confidence=float(conf), risk_score=float(risk), size_pct=float(size)
            )
            for symbol, action, conf, risk, size in answers[
                ["symbol", "action", "confidence", "risk_score", "size_pct"]
            ].itertuples(index=False, name=None)
        ]
    )
    rewards = answers["accepted"].to_numpy(dtype=float)
    return bandit.ArmStats(xtx=xs.T @ xs, xty=xs.T @ rewards, n=int(rewards.size))


def _cards_read(user_ids: list[int], since: dict[int, Any]) -> dict[int, float | None]:
    """Each user's :func:`~recommendations.core.learned_profile.cards_read` from the decision cards shown open to them.

    A day counts once it is over for the user: every day but their latest, whose cards may still be answered.
    """
    rows = (
        Recommendation.objects.filter(user_id__in=user_ids, recommendation_type__in=pers.DECISION_ACTIONS)
        .values_list("user_id", "trading_date", "status", "recommendation_timestamp", "model_features")
        .order_by()
    )
    days: dict[int, dict[Any, list[int]]] = {}
    for uid, day, status, made, features in rows:
        if since.get(uid) is not None and made < since[uid]:
            continue
        if ((features or {}).get("personalisation") or {}).get("folded"):
            continue  # folded cards are not read unless opened: they say nothing about attention
        shown_answered = days.setdefault(uid, {}).setdefault(day, [0, 0])
        shown_answered[0] += 1
        shown_answered[1] += int(status in (RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED))
    out: dict[int, float | None] = {}
    for uid, by_day in days.items():
        latest = max(by_day)
        counts = [v for d, v in sorted(by_day.items()) if d != latest]
        out[uid] = pers.cards_read([c[0] for c in counts], [c[1] for c in counts]) if counts else None
    return out


def preference_profiles_recompute(*, user_ids: list[int] | None = None) -> int:
    """Recompute and store the learned profile of ``user_ids`` (default: every user with an answer); returns how many.

    Learns from the answers to decision cards (BUY, SELL) given after the user's last reset. The stored JSON is the
    :class:`~recommendations.core.learned_profile.Profile` plus ``"bandit"``: the bandit's sufficient statistics. A listed
    user without answers gets the neutral profile (which changes nothing). Idempotent.
    """
    answers = answers_frame(user_ids=user_ids)
    groups = {int(uid): g for uid, g in answers.groupby("user_id", sort=True)} if not answers.empty else {}
    targets = sorted(set(user_ids) if user_ids is not None else set(groups))
    resets = dict(
        UserPreferenceProfile.objects.filter(user_id__in=targets, reset_at__isnull=False).values_list("user_id", "reset_at")
    )
    read = _cards_read(targets, resets)
    now = timezone.now()
    rows: dict[int, dict[str, Any]] = {}
    for uid in targets:
        group = groups.get(uid)
        if group is not None and uid in resets:
            group = group[group["timestamp"] >= resets[uid]]
        decisions = pers.decision_answers(group) if group is not None else None
        if decisions is not None and not decisions.empty:
            profile = pers.build_profile(decisions)
            stats = bandit_stats(decisions)
        else:
            profile, stats = pers.NEUTRAL, bandit.ArmStats()
        profile = replace(profile, cards_read=read.get(uid))
        rows[uid] = {
            "responses": profile.responses,
            "acceptance_rate": _fraction(profile.acceptance_rate),
            "confidence_threshold": _optional_fraction(profile.confidence_threshold),
            "size_scale": _fraction(profile.size_scale),
            "profile": {**profile.as_dict(), "bandit": stats.as_dict()} if stats.n else profile.as_dict(),
            "computed_at": now,
        }
    fields = ["responses", "acceptance_rate", "confidence_threshold", "size_scale", "profile", "computed_at"]
    with transaction.atomic():
        # One UPDATE per batch for the users who have a profile (the reset date is not written: a reset meanwhile
        # keeps it), a get-or-create for the few who have none yet.
        stored = UserPreferenceProfile.objects.select_for_update().filter(user_id__in=list(rows)).in_bulk(field_name="user_id")
        for uid, obj in stored.items():
            for name, value in rows[uid].items():
                setattr(obj, name, value)
        UserPreferenceProfile.objects.bulk_update(list(stored.values()), fields, batch_size=500)
        for uid in rows.keys() - stored.keys():
            UserPreferenceProfile.objects.update_or_create(user_id=uid, defaults=rows[uid])
    return len(targets)


def preference_profile_reset(*, user: User) -> UserPreferenceProfile:
    """Forget what was learned about ``user``: their profile becomes neutral and their answers until now are no
    longer learned from (they stay in their history and in the statistics). The bandit starts again from the
    population prior. Idempotent."""
    now = timezone.now()
    row, _ = UserPreferenceProfile.objects.update_or_create(
        user=user,
        defaults={
            "responses": 0,
            "acceptance_rate": _fraction(pers.NEUTRAL.acceptance_rate),
            "confidence_threshold": None,
            "size_scale": Decimal(1),
            "profile": pers.NEUTRAL.as_dict(),
            "computed_at": now,
            "reset_at": now,
        },
    )
    return row


def profiles_for(user_ids: list[int]) -> dict[int, pers.Profile]:
    """Stored profiles of ``user_ids``; users without one are absent (treat them as :data:`~pers.NEUTRAL`)."""
    rows = UserPreferenceProfile.objects.filter(user_id__in=user_ids).values_list("user_id", "profile")
    return {uid: pers.Profile.from_dict(data) for uid, data in rows}


#: At most this many of the most recently computed profiles make the population prior (bounded work a generation).
POPULATION_PROFILES = 20_000


def bandit_population() -> tuple[dict[int, bandit.ArmStats], dict[int, tuple[str, str]]]:
    """Every stored user's bandit statistics and their questionnaire group (risk tolerance, experience)."""
    rows = UserPreferenceProfile.objects.order_by("-computed_at").values_list(
        "user_id", "profile", "user__risk_tolerance", "user__investment_experience"
    )[:POPULATION_PROFILES]
    stats: dict[int, bandit.ArmStats] = {}
    keys: dict[int, tuple[str, str]] = {}
    for uid, data, tolerance, experience in rows:
        arm = bandit.ArmStats.from_dict((data or {}).get("bandit"))
        if arm.n:
            stats[uid] = arm
            keys[uid] = (tolerance, experience)
    return stats, keys


def bandit_prior(
    user_id: int, key: tuple[str, str], stats: dict[int, bandit.ArmStats], keys: dict[int, tuple[str, str]]
) -> np.ndarray:
    """The population prior mean of one user: the others' statistics by questionnaire group, the user's own left out."""
    groups: dict[tuple[str, str], bandit.ArmStats] = {}
    for uid, arm in stats.items():
        if uid != user_id:
            groups[keys[uid]] = groups.get(keys[uid], bandit.ArmStats()) + arm
    return bandit.population_prior(groups, key)


@dataclass
class Personaliser:
    """Per-generation state: the users' profiles, their bandit statistics, the population, the base sizes it shrank."""

    profiles: dict[int, pers.Profile]
    model: AcceptanceModel | None = None
    model_version: int | None = None
    adjustments: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)  # (base shares, scale)
    arms: dict[int, bandit.ArmStats] = field(default_factory=dict)
    groups: dict[int, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def for_users(cls, users: list[User]) -> Personaliser | None:
        """``None`` when the flag is off: generation then behaves exactly as without personalisation."""
        if not flag_enabled(Flag.PERSONALISED_RECOMMENDATIONS):
            return None
        model, version = acceptance_model_load()
        arms, groups = bandit_population()
        return cls(
            profiles=profiles_for([u.pk for u in users]),
            model=model,
            model_version=version.version if version is not None else None,
            arms=arms,
            groups=groups,
        )

    def profile(self, user_id: int) -> pers.Profile:
        return self.profiles.get(user_id, pers.NEUTRAL)

    def posterior(self, user: User) -> bandit.Posterior:
        """The user's bandit posterior: their statistics on the population prior of their questionnaire group."""
        key = (user.risk_tolerance, user.investment_experience)
        prior = bandit_prior(user.pk, key, self.arms, self.groups)
        return bandit.posterior(self.arms.get(user.pk, bandit.ArmStats()), prior)

    def adapt(
        self, *, symbol: str, user_ids: list[int], sized: sizing.Sizing, market: sizing.Market, accounts: sizing.Accounts
    ) -> sizing.Sizing:
        """``sized`` with each user's risk adaptation applied (:func:`recommendations.core.learned_profile.adapt_sizing`)."""
        scale = np.array([self.profile(uid).size_scale for uid in user_ids], dtype=float)
        adapted = pers.adapt_sizing(
            sized,
            scale,
            price=market.price,
            sigma_1d=market.sigma_1d,
            equity=np.maximum(accounts.equity, 0.0),
            other_var=accounts.other_var,
            var_budget=accounts.var_budget,
        )
        for i in np.flatnonzero(adapted.shares != sized.shares):
            self.adjustments[(user_ids[i], symbol)] = (float(sized.shares[i]), float(scale[i]))
        return adapted

    def rank(self, rows: list[Recommendation]) -> None:
        """Set ``priority`` (1 first, per user), ``acceptance_probability`` and the audit trail on unsaved ``rows``.

        The bandit (:func:`recommendations.core.bandit.decide`) orders and folds each user's cards of the day. Never
        removes a row and never changes an action; sales of held shares come first and are never folded. A HOLD
        asks nothing: it has no P(accept) and comes after the decision cards.
        """
        if not rows:
            return
        by_user: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            by_user.setdefault(r.user_id, []).append(i)
        for indexes in by_user.values():
            user = rows[indexes[0]].user
            post = self.posterior(user)
            cards = [
                bandit.CardContext(
                    symbol=rows[i].symbol,
                    action=rows[i].recommendation_type,
                    confidence=float(rows[i].confidence_score),
                    risk_score=float(rows[i].risk_score or 0),
                    size_pct=_size_pct(rows[i]),
                    risk_rule_sale=risk_rule_sale(rows[i]),
                )
                for i in indexes
            ]
            # Seeded by user, day and how much is known: the same state gives the same decision (a rerun changes nothing).
            # The user is named by username, not by database id, so a replay into a fresh database (ids differ; MariaDB
            # never reuses a rolled-back id) decides exactly as the original run did.
            day = rows[indexes[0]].trading_date
            who = int.from_bytes(hashlib.sha256(user.get_username().encode()).digest()[:8], "big")
            rng = np.random.default_rng([who, day.toordinal(), post.answers])
            decisions = bandit.decide(cards, post, rng)
            for i, card, decision in zip(indexes, cards, decisions, strict=True):
                rec = rows[i]
                rec.priority = decision.rank
                rec.acceptance_probability = _fraction(decision.expected) if card.asks_decision else None
                base, scale = self.adjustments.get((rec.user_id, rec.symbol), (float(rec.recommended_shares), 1.0))
                rec.model_features = {
                    **rec.model_features,
                    "personalisation": {
                        "p_accept": round(decision.expected, 6) if card.asks_decision else None,
                        "sampled": round(decision.sampled, 6) if card.asks_decision else None,
                        "folded": decision.folded,
                        "risk_rule_sale": card.risk_rule_sale,
                        "answers": post.answers,
                        "source": "contextual bandit (linear Thompson sampling, population prior)",
                        "base_shares": round(base, 4),
                        "size_scale": round(scale, 6),
                    },
                }


def risk_rule_sale(rec: Recommendation) -> bool:
    """Whether ``rec`` is a sale of held shares the risk rules call for (:func:`~pers.ranking_tier`, from its sizing facts)."""
    facts = (rec.model_features or {}).get("sizing") or {}
    weight_after = facts.get("weight_after")
    tier = pers.ranking_tier(
        rec.recommendation_type,
        rec.trade_side,
        reason=facts.get("reason"),
        weight_after=float(weight_after) if weight_after is not None else None,
    )
    return tier == pers.TIER_HELD_SELL


def _size_pct(rec: Recommendation) -> float:
    equity = sizing_equity(rec.model_features)
    return float(rec.recommended_shares * rec.recommended_price) / equity if equity > 0 else 0.0
