"""Forms of the recommendation pages: answering a card (with optional feedback), filtering the history."""

from __future__ import annotations

from typing import Any

from django import forms

from market.symbols import TRADABLE
from quantai.api_fields import StrictDecimalFormField
from recommendations.models import RecommendationStatus, RecommendationType

#: The card's comment box; the API allows the same.
MAX_COMMENT = 1000
SCORE_CHOICES = [("", "No score")] + [(str(i), f"{i} / 5") for i in range(1, 6)]


class RespondForm(forms.Form):
    """One answer from a card: ``answer`` is the button pressed (accept, reject, or feedback on an answered one)."""

    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject"), ("feedback", "Send feedback")])
    shares = StrictDecimalFormField(
        required=False, max_digits=10, decimal_places=4, min_value=0, label="Shares", help_text="Leave as is to take the size"
    )
    feedback_score = forms.TypedChoiceField(
        required=False, choices=SCORE_CHOICES, coerce=int, empty_value=None, label="How useful was this? (optional)"
    )
    comment = forms.CharField(
        required=False, max_length=MAX_COMMENT, widget=forms.Textarea(attrs={"rows": 2}), label="Comment (optional)"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("answer") == "feedback" and data.get("feedback_score") is None and not data.get("comment"):
            raise forms.ValidationError("Give a score or a comment to send feedback.")
        if data.get("answer") != "accept":
            data["shares"] = None  # a size only means something when accepting
        return data


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *RecommendationStatus.choices])
    symbol = forms.ChoiceField(required=False, choices=[("", "Any symbol")] + [(s, s) for s in TRADABLE])
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *RecommendationType.choices])
