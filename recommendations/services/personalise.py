"""Personalisation's writes and its hook into generation (behind ``Flag.PERSONALISED_RECOMMENDATIONS``).

- :func:`preference_profiles_recompute` learns each user's profile from their answers (nightly).
- :class:`Personaliser` is what :func:`recommendations.services.generate.recommendations_generate` uses when the
  flag is on: it shrinks risk-increasing sizes by the user's learned scale (never above what sizing allowed) and
  ranks the day's recommendations: sales of held shares first, then all other cards (trades and HOLDs alike)
  by predicted acceptance, compared at :data:`~recommendations.personalisation.RANK_RESOLUTION`. The numbers
  come from the pure :mod:`recommendations.personalisation`; P(accept) is the profile's estimate, averaged in
  log-odds with the acceptance model's (fed the profile's overall, symbol and action rates) when one verifies.
  ``model_features["personalisation"]`` records the score, its source and the size adaptation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from quantai.flags import Flag, flag_enabled
from recommendations import personalisation as pers
from recommendations import sizing
from recommendations.acceptance import AcceptanceModel, acceptance_model_load, answers_frame, sizing_equity
from recommendations.models import Recommendation, UserPreferenceProfile

logger = logging.getLogger(__name__)

FRACTION = Decimal("0.0001")


def _fraction(value: float) -> Decimal:
    return min(Decimal(1), max(Decimal(0), Decimal(repr(float(value))).quantize(FRACTION, rounding=ROUND_HALF_EVEN)))


def _optional_fraction(value: float | None) -> Decimal | None:
    return None if value is None else _fraction(value)


def preference_profiles_recompute(*, user_ids: list[int] | None = None) -> int:
    """Recompute and store the learned profile of ``user_ids`` (default: every user with an answer); returns how many.

    A listed user without answers gets the neutral profile (which changes nothing). Idempotent.
    """
    answers = answers_frame(user_ids=user_ids)
    groups = {int(uid): g for uid, g in answers.groupby("user_id", sort=True)} if not answers.empty else {}
    targets = sorted(set(user_ids) if user_ids is not None else set(groups))
    now = timezone.now()
    with transaction.atomic():
        for uid in targets:
            group = groups.get(uid)
            profile = pers.build_profile(group) if group is not None else pers.NEUTRAL
            UserPreferenceProfile.objects.update_or_create(
                user_id=uid,
                defaults={
                    "responses": profile.responses,
                    "acceptance_rate": _fraction(profile.acceptance_rate),
                    "confidence_threshold": _optional_fraction(profile.confidence_threshold),
                    "size_scale": _fraction(profile.size_scale),
                    "profile": profile.as_dict(),
                    "computed_at": now,
                },
            )
    return len(targets)


def profiles_for(user_ids: list[int]) -> dict[int, pers.Profile]:
    """Stored profiles of ``user_ids``; users without one are absent (treat them as :data:`~pers.NEUTRAL`)."""
    rows = UserPreferenceProfile.objects.filter(user_id__in=user_ids).values_list("user_id", "profile")
    return {uid: pers.Profile.from_dict(data) for uid, data in rows}


@dataclass
class Personaliser:
    """Per-generation state: the users' profiles, the acceptance model, and the base sizes it shrank."""

    profiles: dict[int, pers.Profile]
    model: AcceptanceModel | None = None
    model_version: int | None = None
    adjustments: dict[tuple[int, str], tuple[float, float]] = field(default_factory=dict)  # (base shares, scale)

    @classmethod
    def for_users(cls, users: list[User]) -> Personaliser | None:
        """``None`` when the flag is off: generation then behaves exactly as without personalisation."""
        if not flag_enabled(Flag.PERSONALISED_RECOMMENDATIONS):
            return None
        model, version = acceptance_model_load()
        return cls(
            profiles=profiles_for([u.pk for u in users]),
            model=model,
            model_version=version.version if version is not None else None,
        )

    def profile(self, user_id: int) -> pers.Profile:
        return self.profiles.get(user_id, pers.NEUTRAL)

    def adapt(
        self, *, symbol: str, user_ids: list[int], sized: sizing.Sizing, market: sizing.Market, accounts: sizing.Accounts
    ) -> sizing.Sizing:
        """``sized`` with each user's risk adaptation applied (:func:`recommendations.personalisation.adapt_sizing`)."""
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

        Never removes a row and never changes an action: sales of held shares come first whatever their score.
        """
        if not rows:
            return
        frame = pd.DataFrame.from_records(
            [
                {
                    "action": r.recommendation_type,
                    "confidence": float(r.confidence_score),
                    "risk_score": float(r.risk_score or 0),
                    "symbol": r.symbol,
                    "size_pct": _size_pct(r),
                    "risk_tolerance": r.user.risk_tolerance,
                    "experience": r.user.investment_experience,
                    "user_rate": self.profile(r.user_id).acceptance_rate,
                    "user_symbol_rate": self.profile(r.user_id).symbol_rate(r.symbol),
                    "user_action_rate": self.profile(r.user_id).action_rate(r.recommendation_type),
                    "user_responses": self.profile(r.user_id).responses,
                }
                for r in rows
            ]
        )
        profile_scores = np.array(
            [
                self.profile(r.user_id).expected_acceptance(
                    r.symbol, float(r.confidence_score), r.recommendation_type, float(r.risk_score or 0)
                )
                for r in rows
            ]
        )
        if self.model is not None:
            # The pooled model knows what people like this user do; the profile knows this user. Neither alone
            # ranks well (the forest barely separates one user's symbols): average them in log-odds.
            scores = _mean_log_odds(self.model.predict(frame), profile_scores)
            source = f"acceptance model v{self.model_version} and profile"
        else:
            scores = profile_scores
            source = "profile"
        by_user: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            by_user.setdefault(r.user_id, []).append(i)
        for indexes in by_user.values():
            tiers = [pers.ranking_tier(rows[i].recommendation_type, rows[i].trade_side) for i in indexes]
            ranks = pers.rank_order(tiers, scores[indexes])
            for i, rank in zip(indexes, ranks, strict=True):
                rec = rows[i]
                rec.priority = int(rank)
                rec.acceptance_probability = _fraction(float(scores[i]))
                base, scale = self.adjustments.get((rec.user_id, rec.symbol), (float(rec.recommended_shares), 1.0))
                rec.model_features = {
                    **rec.model_features,
                    "personalisation": {
                        "p_accept": round(float(scores[i]), 6),
                        "source": source,
                        "base_shares": round(base, 4),
                        "size_scale": round(scale, 6),
                    },
                }


def _mean_log_odds(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The probability whose log-odds is the mean of ``a``'s and ``b``'s (each clipped away from 0 and 1)."""
    pa, pb = np.clip(a, 1e-4, 1 - 1e-4), np.clip(b, 1e-4, 1 - 1e-4)
    log_odds = (np.log(pa / (1 - pa)) + np.log(pb / (1 - pb))) / 2.0
    return np.asarray(1.0 / (1.0 + np.exp(-log_odds)), dtype=float)


def _size_pct(rec: Recommendation) -> float:
    equity = sizing_equity(rec.model_features)
    return float(rec.recommended_shares * rec.recommended_price) / equity if equity > 0 else 0.0
