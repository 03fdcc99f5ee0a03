"""Account deletion: nothing personal survives anywhere, aggregates are unchanged, and it is all or nothing."""

from __future__ import annotations

from dataclasses import asdict, replace

import pandas as pd
import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse
from knox.models import AuthToken

from accounts.audit import audit_record
from accounts.data_deletion import PLACEHOLDER_PREFIX, account_delete
from accounts.factories import DEFAULT_PASSWORD, ActiveUserFactory
from accounts.models import AuditAction, AuditEvent, User
from accounts.tests.personal_data_builders import (
    COMMENT,
    NOTE,
    SECRET_EMAIL,
    SECRET_NAME,
    make_bystander,
    make_rich_user,
    rows_mentioning,
)
from backtesting.models import BacktestRun
from learning.models import TrainingRun
from portfolios.models import CashAccount, Position, RiskAlert, Trade
from quantai import personal_data
from quantai.errors import Conflict, ValidationFailed
from recommendations.acceptance import answers_frame
from recommendations.core.acceptance_model import history_features
from recommendations.models import Recommendation
from recommendations.stats import recommendation_stats, recommendation_stats_by

pytestmark = pytest.mark.django_db

PASSWORD = "pw-investor-123456"  # portfolios.factories.InvestorFactory's password


def _stats_snapshot() -> dict[str, object]:
    by_user = sorted(
        (asdict(s) | {"key": None} for s in recommendation_stats_by(dimension="user")), key=lambda d: repr(sorted(d.items()))
    )
    return {
        "overall": asdict(recommendation_stats()),
        "by_symbol": [asdict(s) for s in recommendation_stats_by(dimension="symbol")],
        "by_model_version": [asdict(s) for s in recommendation_stats_by(dimension="model_version")],
        "by_user_without_keys": by_user,
    }


def _acceptance_rows() -> pd.DataFrame:
    """The acceptance model's training rows (history features included), with the user id left out."""
    return history_features(answers_frame()).drop(columns=["user_id"]).sort_values("id").reset_index(drop=True)


def test_deletion_leaves_no_trace_of_the_name_or_email_in_any_table(client):
    user = make_rich_user()
    make_bystander()
    # A real failed and a real successful sign-in: axes' records, the audit log, a tracked session.
    client.post(reverse("login"), {"username": SECRET_EMAIL, "password": "wrong"}, REMOTE_ADDR="10.9.8.7")
    assert client.post(reverse("login"), {"username": SECRET_NAME, "password": PASSWORD}).status_code == 302
    before = rows_mentioning(SECRET_NAME, SECRET_EMAIL, COMMENT, NOTE)
    tables_before = {hit.split("#")[0] for hit in before}
    assert {"accounts.User", "accounts.AuditEvent", "axes.AccessAttempt", "recommendations.Recommendation"} <= tables_before

    account_delete(user=user, password=PASSWORD)

    assert rows_mentioning(SECRET_NAME, SECRET_EMAIL, COMMENT, NOTE) == []
    assert not User.objects.filter(pk=user.pk).exists()


def test_deletion_keeps_every_statistic_and_the_acceptance_training_rows_unchanged():
    user = make_rich_user()
    make_bystander()
    stats_before, rows_before = _stats_snapshot(), _acceptance_rows()
    recommendations_before = Recommendation.objects.count()

    account_delete(user=user, password=PASSWORD)

    assert Recommendation.objects.count() == recommendations_before
    assert _stats_snapshot() == stats_before
    pd.testing.assert_frame_equal(_acceptance_rows(), rows_before)


def test_recommendations_move_to_an_inactive_placeholder_without_comments():
    user = make_rich_user()
    tolerance, experience = user.risk_tolerance, user.investment_experience
    rec_ids = set(Recommendation.objects.filter(user=user).values_list("pk", flat=True))

    result = account_delete(user=user, password=PASSWORD)

    placeholder = User.objects.get(username=result.placeholder_username)
    assert placeholder.username.startswith(PLACEHOLDER_PREFIX)
    assert (placeholder.is_active, placeholder.email, placeholder.has_usable_password()) == (False, "", False)
    assert (placeholder.risk_tolerance, placeholder.investment_experience) == (tolerance, experience)
    moved = Recommendation.objects.filter(pk__in=rec_ids)
    assert set(moved.values_list("user_id", flat=True)) == {placeholder.pk}
    assert set(moved.values_list("user_feedback_comment", flat=True)) == {""}
    assert sorted(moved.exclude(user_feedback_score=None).values_list("user_feedback_score", flat=True)) == [4]


def test_deletion_removes_the_ledger_portfolio_backtests_sessions_and_tokens(client):
    user = make_rich_user()
    bystander = make_bystander()
    client.force_login(user)
    session_key = client.session.session_key
    bystander_trades = Trade.objects.filter(user=bystander).count()

    result = account_delete(user=user, password=PASSWORD)

    for model, owner in [(Trade, "user"), (Position, "user"), (CashAccount, "user"), (RiskAlert, "user"), (BacktestRun, "owner")]:
        assert not model.objects.filter(**{f"{owner}_id": user.pk}).exists(), model
    assert not AuthToken.objects.filter(user_id=user.pk).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    assert not AccessAttempt.objects.filter(username__iexact=SECRET_NAME).exists()
    assert TrainingRun.objects.filter(triggered_by=None).count() == 1  # the run stays, detached
    assert Trade.objects.filter(user=bystander).count() == bystander_trades
    assert result.erased["portfolios"]["ledger_entries_deleted"] >= 3
    call_command("verify_ledger")  # every remaining ledger still equals its positions and cash


def test_the_audit_log_keeps_the_events_under_the_placeholder_and_records_the_deletion():
    user = make_rich_user()
    events_before = AuditEvent.objects.count()

    result = account_delete(user=user, password=PASSWORD)

    assert AuditEvent.objects.count() == events_before + 1
    mine = AuditEvent.objects.filter(actor_username=result.placeholder_username)
    assert mine.filter(details__change="account_deleted").count() == 1
    assert set(mine.values_list("ip", flat=True)) == {None}
    deletion = mine.get(details__change="account_deleted")
    assert deletion.details["erased"]["recommendations"]["recommendations_anonymised"] == 4


def test_a_wrong_password_deletes_nothing():
    user = make_rich_user()
    with pytest.raises(ValidationFailed) as excinfo:
        account_delete(user=user, password="not my password")
    assert "password" in excinfo.value.fields
    assert User.objects.filter(pk=user.pk).exists()
    assert Trade.objects.filter(user=user).exists()


def test_staff_accounts_are_refused():
    user = make_rich_user()
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.refresh_from_db()
    with pytest.raises(Conflict):
        account_delete(user=user, password=PASSWORD)
    assert User.objects.filter(pk=user.pk).exists()


def test_a_failing_erase_step_rolls_everything_back(monkeypatch):
    user = make_rich_user()
    counts = {m: m.objects.count() for m in (Trade, Recommendation, BacktestRun, AuditEvent, User, AuthToken)}
    comments = sorted(Recommendation.objects.filter(user=user).values_list("user_feedback_comment", flat=True))
    personal_data.providers()
    accounts_step = personal_data._PROVIDERS["accounts"]

    def erase_then_fail(*, user: User, placeholder: User) -> dict[str, int]:
        # accounts erases last: by now every other app has deleted or moved its rows.
        assert accounts_step.erase is not None
        accounts_step.erase(user=user, placeholder=placeholder)
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(personal_data._PROVIDERS, "accounts", replace(accounts_step, erase=erase_then_fail))
    with pytest.raises(RuntimeError, match="disk on fire"):
        account_delete(user=user, password=PASSWORD)

    assert {m: m.objects.count() for m in counts} == counts
    assert sorted(Recommendation.objects.filter(user=user).values_list("user_feedback_comment", flat=True)) == comments
    assert not User.objects.filter(username__startswith=PLACEHOLDER_PREFIX).exists()


def test_a_user_without_a_portfolio_can_be_deleted():
    user = ActiveUserFactory(username="plain_user")
    account_delete(user=user, password=DEFAULT_PASSWORD)
    assert not User.objects.filter(username="plain_user").exists()


def test_other_peoples_audit_events_that_merely_contain_the_name_are_left_alone():
    user = make_rich_user()
    longer = f"{SECRET_NAME}_someone_else"
    other = audit_record(action=AuditAction.LOGIN_FAILED, details={"username": longer, "locked_out": False})

    account_delete(user=user, password=PASSWORD)

    assert AuditEvent.objects.get(pk=other.pk).details["username"] == longer


def test_a_non_ascii_username_leaves_no_trace_either():
    name, email = "zoë_ørsted_7f3a", "zoë.ørsted@mail.example.org"
    user = make_rich_user(username=name, email=email)
    assert rows_mentioning(name, email)

    account_delete(user=user, password=PASSWORD)

    assert rows_mentioning(name, email) == []
