"""The composition app's own rows: which daily digests were mailed (the claim that makes sending idempotent)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DigestStatus(models.TextChoices):
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (sent again on the next run)"


class DigestDelivery(models.Model):
    """One daily e-mail digest to one user for one trading day.

    The row is written *before* the mail leaves, under a unique (user, day) constraint, so two runs of the task
    (a second beat, a redelivered message, an operator's command) never mail the same digest twice: the second
    finds the row and stops. A failed send marks the row ``failed`` and the next run may claim it again; a claim
    left ``sending`` by a killed worker is taken over after :data:`insights.digest.STALE_CLAIM`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The trading day whose new recommendations and alerts the digest lists")
    status = models.CharField(max_length=8, choices=DigestStatus.choices, default=DigestStatus.SENDING)
    recommendations = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "insights_digest_deliveries"
        ordering = ["-day", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_user_day_uniq")]

    def __str__(self) -> str:
        return f"digest {self.day} to user {self.user_id}: {self.status}"
