"""The nightly time-ordered quality of personalisation (:mod:`recommendations.core.prequential`), stored for the Learning page.

The bandit is replayed on every answer to a decision card (BUY, SELL), in response-time order, each answer scored
by the bandit's posterior mean from the answers before it (the population prior of the answering user's
questionnaire group from the other users' earlier answers, their own earlier answers on top). Resets are not
replayed: the figures say how well the model predicts, not what one user asked to forget. The acceptance model's
figures come from its newest version (computed when it was trained: each block scored by a forest trained on the
answers before the block).
"""

from __future__ import annotations

from recommendations.acceptance import answers_frame
from recommendations.core import bandit, learned_profile, prequential
from recommendations.models import AcceptanceModelVersion, PersonalisationQuality


def personalisation_quality_record() -> PersonalisationQuality:
    """Replay the bandit on every decision answer so far, take the acceptance model's figures, store one row."""
    answers = answers_frame()
    decisions = learned_profile.decision_answers(answers) if not answers.empty else answers
    items = [
        prequential.BanditAnswer(
            user_id=int(row.user_id),
            group=(row.risk_tolerance, row.experience),
            context=bandit.context_vector(
                symbol=str(row.symbol),
                action=str(row.action),
                confidence=float(row.confidence),
                risk_score=float(row.risk_score),
                size_pct=float(row.size_pct),
            ),
        )
        for row in decisions.itertuples(index=False)
    ]
    labels = [bool(a) for a in decisions["accepted"]] if not decisions.empty else []
    times = list(decisions["timestamp"]) if not decisions.empty else []
    bandit_quality = prequential.bandit_quality(items, labels, times)
    newest = AcceptanceModelVersion.objects.order_by("-version").first()
    acceptance = ((newest.metrics or {}).get("prequential") or {}) if newest is not None else {}
    return PersonalisationQuality.objects.create(
        answers=len(answers),
        bandit=bandit_quality.as_dict(),
        acceptance=acceptance,
        acceptance_version=newest.version if newest is not None and acceptance else None,
    )
