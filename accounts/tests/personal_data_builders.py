"""Builders shared by the data-export, data-pages and account-deletion tests: a user with something in every app."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from axes.models import AccessAttempt
from django.apps import apps
from django.db import connection, models
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from knox.models import AuthToken

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from backtesting.factories import BacktestRunFactory
from learning.factories import TrainingRunFactory
from market import calendar
from portfolios.factories import buy, funded_investor
from portfolios.models import Position
from portfolios.tests.alert_factories import owned_alert_id
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType

#: Distinctive, so a substring search over every column cannot match anything else by accident.
SECRET_NAME = "zelda_quux_7f3a"
SECRET_EMAIL = "zelda.quux.7f3a@mail.example.org"
COMMENT = "Zelda thinks NVDA is overpriced, call me on 555-0100"
NOTE = "bought after my sister's advice"


def _answered(user: User, *, symbol: str, days_ago: int, accepted: bool, correct: bool | None, **extra: Any) -> Recommendation:
    day = calendar.add_trading_days(calendar.latest_completed_session(), -days_ago)
    status = RecommendationStatus.ACCEPTED if accepted else RecommendationStatus.REJECTED
    rec: Recommendation = RecommendationFactory(  # type: ignore[assignment]
        user=user,
        symbol=symbol,
        trading_date=day,
        status=status,
        user_accepted=accepted,
        user_response_timestamp=timezone.now() - timedelta(days=days_ago),
        actual_shares_traded=Decimal("2.0000") if accepted else None,
        actual_price=Decimal("100.00") if accepted else None,
        outcome_evaluated=correct is not None,
        direction_correct=correct,
        outcome_return_pct=Decimal("1.5000") if correct is not None else None,
        model_features={"sizing": {"equity": 10000.0}},
        **extra,
    )
    return rec


def make_rich_user(username: str = SECRET_NAME, email: str = SECRET_EMAIL) -> User:
    """A user with a ledger, a position with notes, an alert, answered and pending recommendations with
    feedback, a backtest run, a training run, an API token, audit events and a failed sign-in record."""
    user = funded_investor("20000.00", username=username, email=email)
    trade = buy(user, "AMZN", 3, "120.00")
    Position.objects.filter(user=user, symbol="AMZN").update(notes=NOTE)
    owned_alert_id(user)  # an AAPL long with a stop loss, and an open alert on it
    accepted = _answered(user, symbol="AMZN", days_ago=12, accepted=True, correct=True, user_feedback_score=4)
    Recommendation.objects.filter(pk=accepted.pk).update(trade=trade, user_feedback_comment=COMMENT)
    _answered(user, symbol="GOOGL", days_ago=11, accepted=False, correct=False, user_feedback_comment=COMMENT)
    _answered(user, symbol="META", days_ago=10, accepted=True, correct=None)
    RecommendationFactory(user=user, symbol="NVDA", recommendation_type=RecommendationType.HOLD, trade_side="")
    BacktestRunFactory(owner=user)
    TrainingRunFactory(triggered_by=user, trigger="user")
    AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    audit_record(action=AuditAction.PROFILE_CHANGE, actor=user, details={"change": "test", "email": email})
    audit_record(action=AuditAction.LOGIN_FAILED, details={"username": username.upper(), "locked_out": False})
    AccessAttempt.objects.create(
        username=username,
        ip_address="10.1.2.3",
        user_agent="ua",
        http_accept="*/*",
        path_info="/login/",
        get_data="",
        post_data=f"username={username}",
        failures_since_start=1,
    )
    return user


def make_bystander(username: str = "bystander_ok") -> User:
    """Another investor with answered recommendations, who must be untouched by a deletion."""
    user = funded_investor("5000.00", username=username)
    buy(user, "AAPL", 1, "100.00")
    _answered(user, symbol="AAPL", days_ago=9, accepted=True, correct=True)
    _answered(user, symbol="AMZN", days_ago=8, accepted=False, correct=True)
    return user


def rows_mentioning(*needles: str) -> list[str]:
    """``app.Model#pk.column`` for every text-like column of every table (third-party apps included) containing a needle."""
    found: list[str] = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table not in connection.introspection.table_names():
            continue
        text_fields = [
            f for f in model._meta.concrete_fields if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for field in text_fields:
            condition = Q()
            for needle in needles:
                # JSON text may hold non-ASCII characters as \u escapes (SQLite does).
                for form in {needle, json.dumps(needle)[1:-1]}:
                    condition |= Q(**{"_as_text__icontains": form})
            qs = model._base_manager.annotate(_as_text=Cast(field.attname, TextField())).filter(condition)
            found.extend(f"{model._meta.label}#{pk}.{field.attname}" for pk in qs.values_list("pk", flat=True))
    return found
