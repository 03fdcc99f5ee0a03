"""The QuantAI user: Django's auth user plus the investor profile of the original ``users`` table."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models


class RiskTolerance(models.TextChoices):
    CONSERVATIVE = "Conservative", "Conservative"
    MODERATE = "Moderate", "Moderate"
    AGGRESSIVE = "Aggressive", "Aggressive"


class InvestmentExperience(models.TextChoices):
    BEGINNER = "Beginner", "Beginner"
    INTERMEDIATE = "Intermediate", "Intermediate"
    ADVANCED = "Advanced", "Advanced"


class User(AbstractUser):
    """An investor (or an operator: roles come from groups and the staff/superuser flags).

    ``portfolio_value`` and ``total_pnl`` are caches written by the portfolio valuation
    service; the trade ledger is the source of truth.
    """

    email = models.EmailField("email address", blank=True)
    risk_tolerance = models.CharField(max_length=12, choices=RiskTolerance.choices, default=RiskTolerance.MODERATE)
    investment_experience = models.CharField(
        max_length=12, choices=InvestmentExperience.choices, default=InvestmentExperience.BEGINNER
    )
    portfolio_value = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    total_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    preferences = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "users"
        indexes = [
            models.Index(fields=["username"], name="users_username_idx"),
            models.Index(fields=["risk_tolerance"], name="users_risk_tolerance_idx"),
        ]

    def __str__(self) -> str:
        return self.username
