"""The recommendation pages and the feedback API: owner-only, htmx answers, one trade per accept, no inline script."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from market import calendar
from portfolios.factories import buy, funded_investor, price_bar
from portfolios.models import CashAccount, Trade
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType
from recommendations.stats import recommendation_stats

pytestmark = [pytest.mark.django_db]
D = Decimal
HTMX = {"HTTP_HX_REQUEST": "true"}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def _signed_in(client, cash: str = "1000.00"):
    user = funded_investor(cash)
    client.force_login(user)
    return user


def _assert_no_inline_script(html: str) -> None:
    # json_script blocks carry data, not code: the CSP does not run them and they have a type.
    code_blocks = [m for m in INLINE_SCRIPT.findall(html) if 'type="application/json"' not in m]
    assert code_blocks == []
    assert INLINE_HANDLER.findall(html) == []
    assert "javascript:" not in html


def test_todays_page_shows_the_users_cards_with_every_figure(client):
    user = _signed_in(client)
    rec = RecommendationFactory(
        user=user,
        symbol="NVDA",
        recommended_shares=D("3"),
        recommended_price=D("120.50"),
        risk_score=D("0.2500"),
        confidence_score=D("0.6400"),
        recommendation_reasoning="20-day momentum +8 % and RSI 71.",
    )
    RecommendationFactory(user=funded_investor("10.00"), symbol="META", recommendation_reasoning="someone else's")

    response = client.get(reverse("recommendations:today"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="rec-{rec.pk}"' in html
    for text in ("Buy", "NVDA", "120.50", "64 %", "25 / 100", "20-day momentum +8 % and RSI 71.", "Accept", "Reject"):
        assert text in html
    assert "someone else's" not in html and "META" not in html.split('id="rec-list"')[1]
    assert f'hx-post="{reverse("recommendations:respond", args=[rec.pk])}"' in html
    assert "X-CSRFToken" in html
    _assert_no_inline_script(html)


def test_without_a_trained_model_the_page_says_so(client):
    _signed_in(client)

    response = client.get(reverse("recommendations:today"))

    assert response.status_code == 200
    assert 'id="rec-no-model"' in response.content.decode()
    assert "no model has been trained yet" in response.content.decode()


def test_while_the_first_training_runs_the_empty_page_shows_its_progress(client):
    from learning.models import RunStatus, TrainingRun

    investor = _signed_in(client)
    run = TrainingRun.objects.create(status=RunStatus.QUEUED, kinds=["rf"])
    queued = client.get(reverse("recommendations:today")).content.decode()
    run.status, run.progress, run.stage = RunStatus.RUNNING, 45, "fitting rf on fold 2023"
    run.started_at = run.created_at
    run.save()

    running = client.get(reverse("recommendations:today")).content.decode()

    assert 'id="rec-progress"' in queued and 'value="0"' in queued
    assert re.search(r'<progress max="100" value="45" aria-label="Training progress">', running)
    assert "fitting rf on fold 2023" in running and 'id="rec-no-model"' not in running
    # Once the investor has cards the page is about them: no bar.
    RecommendationFactory(user=investor)
    assert 'id="rec-progress"' not in client.get(reverse("recommendations:today")).content.decode()


def test_the_pages_are_not_open_to_anonymous_visitors(client):
    rec = RecommendationFactory()
    for url in (
        reverse("recommendations:today"),
        reverse("recommendations:history"),
        reverse("recommendations:detail", args=[rec.pk]),
        reverse("recommendations:card", args=[rec.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    assert client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "accept"}).status_code == 302
    assert not Trade.objects.filter(side="BUY").exists()


@pytest.mark.parametrize("name", ["detail", "card"])
def test_another_users_recommendation_answers_404(client, name):
    _signed_in(client)
    theirs = RecommendationFactory(user=funded_investor("1000.00"))

    assert client.get(reverse(f"recommendations:{name}", args=[theirs.pk])).status_code == 404
    not_an_id = reverse(f"recommendations:{name}", args=[theirs.pk]).replace(str(theirs.pk), "abc", 1)
    assert client.get(not_an_id).status_code == 404


def test_answering_another_users_recommendation_answers_404_and_trades_nothing(client):
    _signed_in(client)
    theirs = RecommendationFactory(user=funded_investor("1000.00"))

    response = client.post(reverse("recommendations:respond", args=[theirs.pk]), {"answer": "accept"}, **HTMX)

    theirs.refresh_from_db()
    assert response.status_code == 404
    assert theirs.status == RecommendationStatus.PENDING and not Trade.objects.filter(side="BUY").exists()


def test_htmx_accept_returns_the_updated_card_and_executes_one_trade_when_posted_twice(client):
    user = _signed_in(client, "1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))
    url = reverse("recommendations:respond", args=[rec.pk])

    first = client.post(url, {"answer": "accept", "shares": "2"}, **HTMX)
    second = client.post(url, {"answer": "accept", "shares": "2"}, **HTMX)

    for response in (first, second):
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<article class="rec-card') and "<html" not in html  # a fragment, not a page
        assert 'data-status="accepted"' in html and "Recorded: buy 2 AAPL at 100.00 USD" in html
    assert Trade.objects.filter(user=user).exclude(side="DEPOSIT").count() == 1
    assert CashAccount.objects.get(user=user).balance == D("800.00")


def test_accepting_a_different_size_trades_that_size(client):
    user = _signed_in(client, "1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))

    client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "accept", "shares": "1.5"}, **HTMX)

    rec.refresh_from_db()
    assert rec.actual_shares_traded == D("1.5") and CashAccount.objects.get(user=user).balance == D("850.00")


def test_reject_with_feedback_is_stored_and_trades_nothing(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user)

    response = client.post(
        reverse("recommendations:respond", args=[rec.pk]),
        {"answer": "reject", "shares": "2", "feedback_score": "2", "comment": "Too much in one stock for me."},
        **HTMX,
    )

    rec.refresh_from_db()
    assert response.status_code == 200 and 'data-status="rejected"' in response.content.decode()
    assert (rec.status, rec.user_accepted) == (RecommendationStatus.REJECTED, False)
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (2, "Too much in one stock for me.")
    assert not Trade.objects.filter(user=user, side="BUY").exists()


def test_feedback_can_be_added_to_an_answered_card_later(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user)
    url = reverse("recommendations:respond", args=[rec.pk])
    client.post(url, {"answer": "accept"}, **HTMX)

    response = client.post(url, {"answer": "feedback", "feedback_score": "5"}, **HTMX)

    rec.refresh_from_db()
    assert "Your feedback: 5 / 5" in response.content.decode()
    assert rec.user_feedback_score == 5 and Trade.objects.filter(user=user, side="BUY").count() == 1


def test_a_refused_trade_is_shown_on_the_card_and_nothing_is_recorded(client):
    user = _signed_in(client, "100.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))

    response = client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "accept"}, **HTMX)

    rec.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in html and "cash" in html.lower()
    assert rec.status == RecommendationStatus.PENDING and not Trade.objects.filter(side="BUY").exists()


def test_a_comment_over_1000_characters_is_refused(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user)

    response = client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "reject", "comment": "x" * 1001}, **HTMX)

    rec.refresh_from_db()
    assert 'role="alert"' in response.content.decode() and rec.status == RecommendationStatus.PENDING


def test_without_htmx_an_answer_redirects_back_with_a_message(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user)

    response = client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "reject"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("recommendations:today")
    assert "Buy AAPL: rejected." in response.content.decode()


def test_an_expired_recommendation_cannot_be_answered_from_its_card(client):
    user = _signed_in(client)
    old = calendar.add_trading_days(calendar.latest_completed_session(), -3)
    rec = RecommendationFactory(user=user, trading_date=old)

    card = client.get(reverse("recommendations:card", args=[rec.pk])).content.decode()
    response = client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "accept"}, **HTMX)

    assert "expired" in card and 'value="accept"' not in card
    assert "expired" in response.content.decode() and not Trade.objects.filter(side="BUY").exists()


def test_the_detail_page_has_the_chart_data_contributions_reasoning_and_conditions(client):
    user = _signed_in(client)
    day = calendar.latest_completed_session()
    for i, d in enumerate(calendar.sessions(calendar.add_trading_days(day, -9), day)):
        price_bar("GOOGL", d, D("150") + i)
    rec = RecommendationFactory(
        user=user,
        symbol="GOOGL",
        trading_date=day,
        recommendation_reasoning="RSI 71 and the position stays inside your limit.",
        model_features={"contributions": [["ret_20", 0.31], ["rsi_14", -0.12]], "feature_values": {"ret_20": 0.08}},
        market_conditions={"market": "bull", "symbol": {"trend": "up", "volatility_level": "normal", "return_20d": 0.05}},
    )

    response = client.get(reverse("recommendations:detail", args=[rec.pk]))

    html = response.content.decode()
    chart = response.context["chart"]
    assert response.status_code == 200
    assert len(chart["series"]) == 10 and chart["series"][-1]["time"] == day.isoformat()
    assert chart["markers"][0] == {"time": day.isoformat(), "kind": "signal", "text": "BUY signal"}
    assert chart["contributions"] == [{"feature": "ret_20", "value": 0.31}, {"feature": "rsi_14", "value": -0.12}]
    assert 'id="rec-chart-data" type="application/json"' in html and 'id="rec-contributions"' in html
    assert "RSI 71 and the position stays inside your limit." in html
    assert "Stock trend" in html and "bull" in html and "+5.0 %" in html
    assert "TradingView" in html
    _assert_no_inline_script(html)


def _evaluated(user, action, price, outcome, correct, status=RecommendationStatus.REJECTED, **kwargs):
    return RecommendationFactory(
        user=user,
        recommendation_type=action,
        trade_side="" if action == "HOLD" else action,
        recommended_price=D(price),
        outcome_price=D(outcome),
        outcome_evaluated=True,
        outcome_date=date(2024, 6, 10),
        direction_correct=correct,
        status=status,
        trading_date=date(2024, 6, 3) - timedelta(days=kwargs.pop("days_back", 0)),
        **kwargs,
    )


def test_history_shows_outcomes_shadow_outcomes_and_accuracy_beside_the_base_rate(client):
    user = _signed_in(client)
    _evaluated(user, "BUY", "100.00", "110.00", True, shadow_pnl=D("20.00"), shadow_return_pct=D("10.0000"))
    _evaluated(user, "BUY", "100.00", "95.00", False, days_back=1)
    _evaluated(user, "SELL", "100.00", "90.00", True, days_back=2)
    _evaluated(user, "HOLD", "100.00", "101.00", True, days_back=3)
    pending = RecommendationFactory(user=user, symbol="AMZN")

    response = client.get(reverse("recommendations:history"))

    html = response.content.decode()
    summary = response.context["summary"]
    assert response.status_code == 200
    assert (summary.evaluated, summary.correct) == (4, 3)
    # Rises: 2 of 4 (110, 101); falls: 2 of 4; inside ±2 %: 1 of 4. Weighted by 2 BUY, 1 SELL, 1 HOLD.
    assert summary.base_rate == pytest.approx((2 * 0.5 + 1 * 0.5 + 1 * 0.25) / 4)
    assert {a.action: a.base_rate for a in summary.by_action} == {"BUY": 0.5, "SELL": 0.5, "HOLD": 0.25}
    assert "20.00 (10.00 %)" in html  # the rejected BUY's shadow outcome
    assert 'data-action="all"' in html and "75 %" in html and "44 %" in html
    assert f'data-recommendation-id="{pending.pk}"' in html
    _assert_no_inline_script(html)


def test_history_filters_by_status(client):
    user = _signed_in(client)
    accepted = _evaluated(user, "BUY", "100.00", "110.00", True, status=RecommendationStatus.ACCEPTED)
    rejected = _evaluated(user, "BUY", "100.00", "110.00", True, days_back=1)

    html = client.get(reverse("recommendations:history"), {"status": "accepted"}).content.decode()

    assert f'data-recommendation-id="{accepted.pk}"' in html
    assert f'data-recommendation-id="{rejected.pk}"' not in html


def test_accuracy_uses_the_price_actually_paid_for_accepted_ones(client):
    user = _signed_in(client)
    _evaluated(user, "BUY", "100.00", "104.00", False, status=RecommendationStatus.ACCEPTED, actual_price=D("105.00"))

    summary = client.get(reverse("recommendations:history")).context["summary"]

    # Scored from the 105 paid: the close of 104 is a fall, so a BUY had no luck to ride either.
    assert summary.accuracy == 0.0 and summary.base_rate == 0.0


def test_accuracy_of_nothing_scored_is_unknown():
    summary = recommendation_stats(recommendations=Recommendation.objects.none())

    assert summary.accuracy is None and summary.base_rate is None and summary.by_action == []


# --- the feedback API ---------------------------------------------------------------------------------


def _feedback_url(user_id, rec_id):
    return f"/api/recommendations/{user_id}/{rec_id}/feedback"


def test_feedback_api_stores_score_and_comment_on_an_answered_recommendation(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user, status=RecommendationStatus.REJECTED, user_accepted=False)

    response = client.post(_feedback_url("me", rec.pk), {"score": 4, "comment": "Fair call."}, content_type="application/json")

    rec.refresh_from_db()
    assert response.status_code == 200, response.content
    assert response.json()["user_feedback_score"] == 4
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (4, "Fair call.")
    assert not Trade.objects.filter(side="BUY").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"score": 6}, "score"), ({"score": 0}, "score"), ({"comment": "x" * 1001}, "comment"), ({}, "score")],
)
def test_feedback_api_refuses_bad_input_in_the_common_error_shape(client, body, field):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user, status=RecommendationStatus.ACCEPTED, user_accepted=True)

    response = client.post(_feedback_url(user.pk, rec.pk), body, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"} and field in error["fields"]


def test_feedback_api_rates_a_pending_recommendation_without_answering_it(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user)

    response = client.post(_feedback_url("me", rec.pk), {"score": 3}, content_type="application/json")

    rec.refresh_from_db()
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert (rec.status, rec.user_accepted, rec.user_feedback_score) == (RecommendationStatus.PENDING, None, 3)


def test_feedback_api_never_reaches_another_users_recommendation(client):
    _signed_in(client)
    other = funded_investor("10.00")
    theirs = RecommendationFactory(user=other, status=RecommendationStatus.REJECTED, user_accepted=False)

    for user_id in ("me", other.pk):
        response = client.post(_feedback_url(user_id, theirs.pk), {"score": 1}, content_type="application/json")
        assert response.status_code == 404 and "error" in response.json()
    theirs.refresh_from_db()
    assert theirs.user_feedback_score is None


def test_feedback_api_is_in_the_schema(client):
    _signed_in(client)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/recommendations/{user_id}/{recommendation_id}/feedback"]["post"]
    assert {"200", "400", "404"} <= set(operation["responses"]) and operation["tags"] == ["recommendations"]


def test_a_hold_card_is_information_and_asks_no_accept_or_reject(client):
    user = _signed_in(client)
    rec = RecommendationFactory(user=user, recommendation_type=RecommendationType.HOLD, trade_side="", recommended_shares=0)

    html = client.get(reverse("recommendations:card", args=[rec.pk])).content.decode()

    assert 'name="shares"' not in html and 'value="accept"' not in html and 'value="reject"' not in html
    assert f"you do not hold {rec.symbol} and there is nothing to buy today" in html
    assert Recommendation.objects.get(pk=rec.pk).status == RecommendationStatus.PENDING


def test_a_hold_on_a_held_stock_says_to_keep_it_and_asks_nothing(client):
    user = _signed_in(client)
    buy(user, "AAPL", 2, "100.00")
    RecommendationFactory(
        user=user, symbol="AAPL", recommendation_type=RecommendationType.HOLD, trade_side="", recommended_shares=0
    )

    html = client.get(reverse("recommendations:today")).content.decode()

    assert "keep your AAPL shares as they are" in html and 'value="accept"' not in html


def test_folded_cards_are_one_click_away_below_the_others(client):
    user = _signed_in(client)
    shown = RecommendationFactory(user=user, symbol="NVDA", recommendation_type=RecommendationType.BUY, trade_side="BUY")
    folded = RecommendationFactory(
        user=user,
        symbol="AMZN",
        recommendation_type=RecommendationType.BUY,
        trade_side="BUY",
        trading_date=shown.trading_date,
        model_features={"personalisation": {"folded": True}},
    )

    html = client.get(reverse("recommendations:today")).content.decode()

    fold = html.index('id="rec-folded"')
    assert html.index(f'id="rec-{shown.pk}"') < fold < html.index(f'id="rec-{folded.pk}"')
    assert "1 below what you usually act on" in html


def test_the_answer_url_only_takes_posts_and_hides_other_users_ids_whatever_the_method(client):
    user = _signed_in(client)
    mine = RecommendationFactory(user=user)
    theirs = RecommendationFactory(user=funded_investor("10.00"))

    assert client.get(reverse("recommendations:respond", args=[mine.pk])).status_code == 405
    assert client.get(reverse("recommendations:respond", args=[theirs.pk])).status_code == 404
