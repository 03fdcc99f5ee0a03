"""The daily e-mail digest: opt-in from Settings, one plain-text + HTML mail per opted-in active user with the
day's new recommendations and alerts, never twice for one user and day, never to inactive or opted-out users,
a beat entry after generation and a management command for a given date."""

from __future__ import annotations

import smtplib
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.factories import ActiveUserFactory
from insights import tasks
from insights.digest import (
    PREFERENCE,
    DigestOutcome,
    digest_preference_set,
    digest_send,
    digests_send,
    latest_digest_day,
)
from insights.models import DigestDelivery, DigestStatus
from market import calendar
from portfolios.models import RiskAlert
from portfolios.tests.alert_factories import long_with_stop
from quantai.celery import app
from quantai.tasks_lock import period_release
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationType

pytestmark = [pytest.mark.django_db]

DAY = date(2024, 6, 14)


def _rec(user, day: date = DAY, **kwargs):
    defaults = {
        "user": user,
        "trading_date": day,
        "expires_on": calendar.next_trading_day(day),
        "evaluate_on": calendar.add_trading_days(day, 5),
        "recommendation_reasoning": "The trend is up and the model sees a rise.",
    }
    defaults.update(kwargs)
    return RecommendationFactory(**defaults)


def _subscriber(username: str = "ann", **kwargs):
    user = ActiveUserFactory(username=username, email=f"{username}@example.com", **kwargs)
    digest_preference_set(user=user, enabled=True)
    return user


def _alert(user, day: date = DAY) -> RiskAlert:
    position = long_with_stop(user, symbol="META", shares=3, price="100.00", stop="90.00")
    return RiskAlert.objects.create(
        user=user,
        position=position,
        symbol="META",
        position_type=position.position_type,
        kind="stop_loss",
        level=Decimal("90.00"),
        trigger_price=Decimal("88.5000"),
        price_date=day,
        exit_side="SELL",
        exit_shares=position.shares,
        exit_price=Decimal("88.50"),
    )


# --- opt-in ----------------------------------------------------------------------------------------


def test_settings_turns_the_digest_on_and_off_keeping_other_preferences(client):
    user = ActiveUserFactory(email="bea@example.com", preferences={"theme": "keep me"})
    client.force_login(user)
    page = client.get("/settings/").content.decode()
    assert 'action="/settings/digest/"' in page and 'name="email_digest"' in page and " checked" not in page

    response = client.post("/settings/digest/", {"email_digest": "on"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    user.refresh_from_db()
    assert user.preferences == {"theme": "keep me", PREFERENCE: True}
    assert 'name="email_digest" value="on" checked' in client.get("/settings/").content.decode()

    client.post("/settings/digest/", {})  # the box unticked
    user.refresh_from_db()
    assert user.preferences == {"theme": "keep me", PREFERENCE: False}


def test_the_switch_takes_posts_from_signed_in_users_only(client):
    assert client.post("/settings/digest/", {"email_digest": "on"}).status_code == 302  # to sign in
    user = ActiveUserFactory()
    client.force_login(user)
    assert client.get("/settings/digest/").status_code == 405
    user.refresh_from_db()
    assert PREFERENCE not in user.preferences


# --- content -----------------------------------------------------------------------------------------


def test_an_opted_in_user_gets_one_mail_with_the_days_recommendations_and_alerts():
    ann = _subscriber()
    buy = _rec(ann, symbol="NVDA", recommendation_type=RecommendationType.BUY, recommended_shares=Decimal("3"))
    hold = _rec(ann, symbol="AAPL", recommendation_type=RecommendationType.HOLD, trade_side="")
    older = _rec(ann, day=calendar.previous_trading_day(DAY), symbol="AMZN")
    someone_else = _rec(ActiveUserFactory(username="zed"), symbol="GOOGL")
    _alert(ann)

    assert digest_send(user=ann, day=DAY) == DigestOutcome.SENT

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ann@example.com"]
    assert message.subject == "QuantAI 2024-06-14: 2 new recommendations and 1 alert"
    text = message.body
    assert "Buy 3 NVDA at 100.00 USD" in text and "Hold AAPL" in text
    assert "AMZN" not in text and "GOOGL" not in text  # another day's, another user's
    assert f"/recommendations/{buy.pk}/" in text and f"/recommendations/{hold.pk}/" in text
    assert "META: the close of 88.50 USD on 2024-06-14 crossed your stop loss at 90.00 USD" in text
    assert "&amp;" not in text and "&#x27;" not in text  # plain text is not HTML-escaped
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="/recommendations/{buy.pk}/"' in html and "Buy 3 NVDA" in html and "stop loss" in html
    delivery = DigestDelivery.objects.get(user=ann, day=DAY)
    assert (delivery.status, delivery.recommendations, delivery.alerts) == (DigestStatus.SENT, 2, 1)
    assert older.pk and someone_else.pk


def test_links_point_at_site_url_when_set(settings):
    settings.SITE_URL = "https://quantai.example.org/"
    ann = _subscriber()
    rec = _rec(ann)
    digest_send(user=ann, day=DAY)
    assert f"https://quantai.example.org/recommendations/{rec.pk}/" in mail.outbox[0].body


def test_a_day_with_nothing_new_sends_nothing():
    ann = _subscriber()
    _rec(ann, day=calendar.previous_trading_day(DAY))
    assert digest_send(user=ann, day=DAY) == DigestOutcome.NOTHING_NEW
    assert mail.outbox == [] and not DigestDelivery.objects.exists()


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"is_active": False}, DigestOutcome.INACTIVE),
        ({"email": ""}, DigestOutcome.NO_EMAIL),
        ({"preferences": {PREFERENCE: False}}, DigestOutcome.NOT_OPTED_IN),
        ({"preferences": {}}, DigestOutcome.NOT_OPTED_IN),
        ({"preferences": {PREFERENCE: "yes"}}, DigestOutcome.NOT_OPTED_IN),  # only a real True opts in
    ],
)
def test_no_mail_for_inactive_address_less_or_opted_out_users(change, outcome):
    ann = _subscriber()
    _rec(ann)
    for field, value in change.items():
        setattr(ann, field, value)
    ann.save()
    assert digest_send(user=ann, day=DAY) == outcome
    tasks.send_daily_digests(DAY.isoformat())
    call_command("send_digest", "--date", DAY.isoformat(), "--user", "ann", stdout=StringIO())
    assert mail.outbox == []


# --- idempotency -----------------------------------------------------------------------------------


def test_running_the_task_twice_mails_each_user_once():
    ann, bob = _subscriber("ann"), _subscriber("bob")
    ActiveUserFactory(username="cid", email="cid@example.com")  # not opted in
    for user in (ann, bob):
        _rec(user)
    _rec(ActiveUserFactory(username="dee", email="dee@example.com"))

    # Called directly (no task id), the period lock does not apply: only the delivery rows stop a second mail.
    first = tasks.send_daily_digests()
    second = tasks.send_daily_digests()
    assert first == second == {"date": DAY.isoformat(), "queued": 2}
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "bob@example.com"]
    # And the operator's command for the same day finds both sent.
    out = StringIO()
    call_command("send_digest", "--date", DAY.isoformat(), stdout=out)
    assert out.getvalue().strip() == "Digest for 2024-06-14: already sent 2."
    assert len(mail.outbox) == 2


def test_scheduled_copies_from_two_beats_run_once():
    ann = _subscriber()
    _rec(ann)
    period_release("insights.tasks.send_daily_digests")
    tasks.send_daily_digests.delay()
    tasks.send_daily_digests.delay()  # another beat's copy of the same send: skipped
    assert len(mail.outbox) == 1


def test_a_claim_held_by_another_run_is_not_sent_again_but_an_abandoned_one_is():
    ann = _subscriber()
    _rec(ann)
    claim = DigestDelivery.objects.create(user=ann, day=DAY, status=DigestStatus.SENDING)
    assert digest_send(user=ann, day=DAY) == DigestOutcome.ALREADY_SENT
    assert mail.outbox == []
    # The worker that claimed it died half an hour ago: the next run takes it over, once.
    DigestDelivery.objects.filter(pk=claim.pk).update(claimed_at=timezone.now() - timedelta(minutes=31))
    assert digest_send(user=ann, day=DAY) == DigestOutcome.SENT
    assert digest_send(user=ann, day=DAY) == DigestOutcome.ALREADY_SENT
    assert len(mail.outbox) == 1


def test_a_failed_send_is_retried_by_the_next_run(monkeypatch):
    ann = _subscriber()
    _rec(ann)

    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("connection lost")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
        result = digests_send(day=DAY)
    assert result.outcomes == {DigestOutcome.FAILED: 1}
    assert DigestDelivery.objects.get(user=ann, day=DAY).status == DigestStatus.FAILED
    assert digests_send(day=DAY).outcomes == {DigestOutcome.SENT: 1}
    assert len(mail.outbox) == 1
    assert DigestDelivery.objects.get(user=ann, day=DAY).error == ""


# --- schedule and command -------------------------------------------------------------------------------


def test_the_beat_sends_digests_after_generation_on_weekdays():
    entry = app.conf.beat_schedule["insights-daily-digest"]
    generation = app.conf.beat_schedule["recommendations-generate"]["schedule"]
    assert entry["task"] == "insights.tasks.send_daily_digests" and entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert schedule.day_of_week == generation.day_of_week
    assert (min(schedule.hour), min(schedule.minute)) > (max(generation.hour), max(generation.minute))
    assert 0 < entry["options"]["expires"] < 24 * 3600


def test_the_command_sends_for_a_given_date_and_the_default_is_the_latest_day():
    ann = _subscriber()
    earlier = calendar.previous_trading_day(DAY)
    _rec(ann, day=earlier, symbol="AMZN")
    _rec(ann, symbol="NVDA")
    assert latest_digest_day() == DAY
    out = StringIO()
    call_command("send_digest", "--date", earlier.isoformat(), stdout=out)
    assert out.getvalue().strip() == f"Digest for {earlier.isoformat()}: sent 1."
    assert "AMZN" in mail.outbox[0].body and "NVDA" not in mail.outbox[0].body
    call_command("send_digest", stdout=StringIO())
    assert len(mail.outbox) == 2 and "NVDA" in mail.outbox[1].body
