"""The original ``recommendations_feedback`` table, kept field for field, plus what the loop needs.

One row is one recommendation for one (user, symbol, trading date): the action, the size, the model's
numbers and the plain-language reason at the time; then the user's response (and the trade it produced);
then, once its horizon has passed, how it turned out. Rejected and expired rows get the same "what if"
figures in the ``shadow_*`` fields, so the engine is scored on everything it said, not only on what users took.

Field units: shares have four decimals and prices two (what a trade records); ``confidence_score``,
``model_prediction`` and ``risk_score`` are fractions 0-1; ``outcome_return_pct`` and ``shadow_return_pct``
are percent, signed by the action (a SELL that was followed by a fall has a positive return).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from market.symbols import TRADABLE


class RecommendationType(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"
    HOLD = "HOLD", "Hold"


class RecommendationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for your answer"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class TradeSideChoice(models.TextChoices):
    """What accepting executes: a SELL recommendation sells held shares, or opens a short where allowed."""

    NONE = "", "No trade"
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"
    SHORT = "SHORT", "Sell short"
    COVER = "COVER", "Buy to cover"


SYMBOL_CHOICES = [(s, s) for s in TRADABLE]


class Recommendation(models.Model):
    # --- the original recommendations_feedback columns ---------------------------------------------
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recommendations")
    symbol = models.CharField(max_length=8, choices=SYMBOL_CHOICES)
    recommendation_type = models.CharField(max_length=4, choices=RecommendationType.choices)
    recommended_shares = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    recommended_price = models.DecimalField(max_digits=10, decimal_places=2, help_text="The close of the signal day")
    confidence_score = models.DecimalField(
        max_digits=5, decimal_places=4, help_text="Calibrated probability of the predicted direction (0-1)"
    )
    recommendation_timestamp = models.DateTimeField(default=timezone.now)
    user_accepted = models.BooleanField(null=True, blank=True, help_text="None until the user answers")
    user_response_timestamp = models.DateTimeField(null=True, blank=True)
    actual_shares_traded = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    actual_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    outcome_evaluated = models.BooleanField(default=False)
    outcome_pnl = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    outcome_return_pct = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    evaluation_timestamp = models.DateTimeField(null=True, blank=True)
    model_prediction = models.DecimalField(
        max_digits=7, decimal_places=6, null=True, blank=True, help_text="The model's calibrated P(up over the horizon)"
    )
    model_features = models.JSONField(default=dict, blank=True, help_text="Inputs, top contributions and the sizing checks")
    risk_score = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    recommendation_reasoning = models.TextField(blank=True)
    market_conditions = models.JSONField(default=dict, blank=True)
    user_feedback_score = models.PositiveSmallIntegerField(null=True, blank=True)
    user_feedback_comment = models.TextField(blank=True, max_length=2000)

    # --- added for the feedback loop -----------------------------------------------------------------
    status = models.CharField(max_length=10, choices=RecommendationStatus.choices, default=RecommendationStatus.PENDING)
    trading_date = models.DateField(help_text="The session whose close the recommendation was made after")
    horizon_days = models.PositiveSmallIntegerField(default=5, help_text="Trading days until the outcome is scored")
    expires_on = models.DateField(help_text="It can be answered until this session's close")
    evaluate_on = models.DateField(help_text="The session whose close scores the outcome (trading_date + horizon)")
    trade_side = models.CharField(max_length=5, choices=TradeSideChoice.choices, blank=True, default="")
    price_target = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    expected_return = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    # The learning app's ModelVersion; a plain id so that retiring or deleting a version never touches history.
    model_version_id = models.BigIntegerField(null=True, blank=True)
    trade = models.ForeignKey("portfolios.Trade", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    outcome_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    outcome_date = models.DateField(null=True, blank=True)
    direction_correct = models.BooleanField(null=True, blank=True, help_text="BUY up, SELL down, HOLD inside the band")
    shadow_pnl = models.DecimalField(
        max_digits=15, decimal_places=2, null=True, blank=True, help_text="What the recommended trade would have made"
    )
    shadow_return_pct = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # --- personalisation (set at generation when Flag.PERSONALISED_RECOMMENDATIONS is on; NULL otherwise) ---
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Rank among the user's recommendations of the day (1 is shown first)"
    )
    acceptance_probability = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, help_text="Predicted P(the user accepts), 0-1"
    )

    class Meta:
        db_table = "recommendations_feedback"
        ordering = ["-trading_date", "symbol", "id"]
        constraints = [
            # One recommendation per user, symbol and day: generation can run twice safely.
            models.UniqueConstraint(fields=["user", "symbol", "trading_date"], name="rec_user_symbol_date_uniq"),
            models.CheckConstraint(condition=Q(confidence_score__gte=0, confidence_score__lte=1), name="rec_confidence_0_1"),
            models.CheckConstraint(
                condition=Q(risk_score__isnull=True) | Q(risk_score__gte=0, risk_score__lte=1), name="rec_risk_0_1"
            ),
            models.CheckConstraint(
                condition=Q(model_prediction__isnull=True) | Q(model_prediction__gte=0, model_prediction__lte=1),
                name="rec_prediction_0_1",
            ),
            models.CheckConstraint(
                condition=Q(user_feedback_score__isnull=True) | Q(user_feedback_score__gte=1, user_feedback_score__lte=5),
                name="rec_feedback_1_5",
            ),
            models.CheckConstraint(condition=Q(recommended_shares__gte=0), name="rec_shares_nonnegative"),
            models.CheckConstraint(condition=Q(status__in=RecommendationStatus.values), name="rec_status_valid"),
            models.CheckConstraint(condition=Q(recommendation_type__in=RecommendationType.values), name="rec_type_valid"),
        ]
        indexes = [
            # The original design's indexes: a user's recommendations by time, a symbol's, and the two loop flags.
            models.Index(fields=["user", "-recommendation_timestamp"], name="rec_user_time_idx"),
            models.Index(fields=["symbol", "recommendation_timestamp"], name="rec_symbol_time_idx"),
            models.Index(fields=["user_accepted"], name="rec_accepted_idx"),
            models.Index(fields=["outcome_evaluated", "evaluate_on"], name="rec_evaluation_due_idx"),
            # Today's cards and the status filter; expiry scans.
            models.Index(fields=["user", "-trading_date", "status"], name="rec_user_date_status_idx"),
            models.Index(fields=["status", "expires_on"], name="rec_status_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.trading_date} {self.recommendation_type} {self.recommended_shares} {self.symbol}"

    @property
    def is_pending(self) -> bool:
        return self.status == RecommendationStatus.PENDING

    @property
    def top_contributions(self) -> list[list[object]]:
        return list((self.model_features or {}).get("contributions", []))


class UserPreferenceProfile(models.Model):
    """One user's learned profile (:class:`recommendations.core.learned_profile.Profile`), recomputed nightly.

    ``profile`` holds the whole estimate; the columns repeat the headline numbers for the admin and queries.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference_profile")
    responses = models.PositiveIntegerField(default=0)
    acceptance_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0.5"))
    confidence_threshold = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    size_scale = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("1"))
    profile = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)
    reset_at = models.DateTimeField(
        null=True, blank=True, help_text="The user reset what was learned: answers before this are not learned from"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(size_scale__gt=0, size_scale__lte=1), name="prefprofile_scale_0_1"),
        ]

    def __str__(self) -> str:
        return f"profile of {self.user_id} ({self.responses} answers)"


class AcceptanceModelVersion(models.Model):
    """One trained acceptance model (P(accept) of a recommendation); the newest one whose artifact verifies is used.

    The artifact lives under ``settings.MODELS_DIR / "acceptance"``, written to a temporary file and renamed,
    and is loaded only when its sha256 matches ``artifact_sha256`` (see :mod:`recommendations.acceptance`).
    """

    version = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    data_hash = models.CharField(max_length=64, help_text="sha256 of the training rows and settings")
    responses = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)
    features = models.JSONField(default=list)
    hyperparameters = models.JSONField(default=dict)
    library_versions = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, help_text="time-ordered cross-validation: AUC per fold, mean, base rate")
    feature_importance = models.JSONField(default=list, help_text="[[feature, importance], ...], largest first")
    artifact_path = models.CharField(max_length=255, help_text="relative to settings.MODELS_DIR")
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.BigIntegerField(default=0)
    format_version = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"acceptance model v{self.version}"


class PersonalisationQuality(models.Model):
    """The nightly time-ordered (prequential) quality of the bandit and of the acceptance model, one row a run.

    Each answer scored by the model as it stood before it (:mod:`recommendations.core.prequential`): answers, accepts,
    AUC, Brier score and a reliability table of at most 10 bins, as JSON (:meth:`~recommendations.core.prequential.
    Quality.as_dict`). ``acceptance`` is the newest acceptance model's, ``{}`` before the first one.
    """

    created_at = models.DateTimeField(default=timezone.now)
    answers = models.PositiveIntegerField(default=0, help_text="Answered recommendations at the time of the run")
    bandit = models.JSONField(default=dict, blank=True)
    acceptance = models.JSONField(default=dict, blank=True)
    acceptance_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"personalisation quality of {self.created_at:%Y-%m-%d %H:%M}"
