"""Every place that shows how the recommendations did reads one selector (``recommendations.stats``): the History
page, ``GET /api/recommendations/me/stats``, the portfolio analytics block, the System page's figures, ``/metrics``,
the Learning page's live table and the ``live`` block of ``GET /api/learning/performance`` report the same
accuracy, base rate and acceptance for the same rows."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from accounts.testing import force_login_verified
from insights.system import system_metrics
from learning.tests.helpers import analyst_user
from portfolios.factories import funded_investor
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus, RecommendationType

pytestmark = [pytest.mark.django_db]

TOKEN = "s3cret-metrics-token-for-tests"
BUY, SELL, HOLD = RecommendationType.BUY, RecommendationType.SELL, RecommendationType.HOLD
ACCEPTED, REJECTED, PENDING = RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED, RecommendationStatus.PENDING


def _rec(user, n, action, status, price, *, outcome=None, correct=None, actual=None):
    return RecommendationFactory(
        user=user,
        symbol=["AAPL", "AMZN", "GOOGL", "META", "NVDA"][n],
        recommendation_type=action,
        trade_side="" if action == HOLD else action,
        status=status,
        user_accepted={ACCEPTED: True, REJECTED: False}.get(status),
        trading_date=date(2024, 5, 1) + timedelta(days=n),
        recommended_price=Decimal(price),
        actual_price=Decimal(actual) if actual else None,
        outcome_evaluated=outcome is not None,
        outcome_price=Decimal(outcome) if outcome else None,
        direction_correct=correct,
    )


@pytest.fixture
def investor():
    """The only investor, so the all-users figures (System page, /metrics) cover exactly these rows."""
    user = funded_investor("10000.00")
    # Paid 105 and closed at 104: scored from the price paid, a fall inside the band; the BUY was wrong.
    _rec(user, 0, BUY, ACCEPTED, "100.00", outcome="104.00", correct=False, actual="105.00")
    # Rejected, with a stale paid price left on the row: the evaluate service scored it from the recommended
    # 100 (a fall), so the base rate must too (reading 90 would count a rise).
    _rec(user, 1, BUY, REJECTED, "100.00", outcome="95.00", correct=False, actual="90.00")
    _rec(user, 2, SELL, REJECTED, "50.00", outcome="48.00", correct=True)
    # An old answer to a HOLD: a HOLD asks nothing, so acceptance does not count it.
    _rec(user, 3, HOLD, REJECTED, "200.00", outcome="201.00", correct=True)
    _rec(user, 4, BUY, PENDING, "80.00")
    return user


# By hand: 4 scored, 2 right. Moves from the scoring price: -0.95 %, -5 %, -4 %, +0.5 %: up 1/4, down 3/4, inside
# ±2 % 2/4; calls 2 BUY, 1 SELL, 1 HOLD. Acceptance: 1 accepted of the 3 answered BUY/SELL cards.
ACCURACY = 0.5
BASE_RATE = (2 * 0.25 + 1 * 0.75 + 1 * 0.5) / 4
ACCEPTANCE = 1 / 3


def _pct(value: float) -> str:
    return f"{round(value * 100)} %"


def test_history_page_stats_api_analytics_system_metrics_and_learning_agree(client, settings, investor):
    force_login_verified(client, investor)

    html = client.get(reverse("recommendations:history")).content.decode()
    all_row = re.search(r'<tr data-action="all".*?</tr>', html, re.S).group(0)
    history = (
        re.search(r'class="num accuracy">([^<]*)<', all_row).group(1),
        re.search(r'class="num base-rate">([^<]*)<', all_row).group(1),
        re.search(r'id="rec-acceptance">([^<]*)<', html).group(1),
    )
    api = client.get("/api/recommendations/me/stats").json()["overall"]
    analytics = client.get("/api/portfolio/me/analytics").json()["recommendations"]["overall"]
    system = system_metrics()["recommendations"]
    settings.METRICS_TOKEN = TOKEN
    body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    metrics = {f.name: f.samples[0].value for f in text_string_to_metric_families(body) if f.samples}
    force_login_verified(
        client, analyst_user(username="analyst")
    )  # the Learning page and API show every user's figures to analysts
    live = client.get("/api/learning/performance").json()["live"]
    page = client.get(reverse("learning")).content.decode()
    learning_page = tuple(
        re.search(rf'data-live="{name}">([^<]*)<', page).group(1) for name in ("accuracy", "base-rate", "acceptance")
    )

    assert history == learning_page == (_pct(ACCURACY), _pct(BASE_RATE), _pct(ACCEPTANCE))
    for figures in (api, analytics, system, live):
        assert (figures["evaluated"], figures["correct"], figures["answered"]) == (4, 2, 3)
        assert figures["accuracy"] == pytest.approx(ACCURACY)
        assert figures["base_rate"] == pytest.approx(BASE_RATE)
        assert figures["acceptance_rate"] == pytest.approx(ACCEPTANCE)
    assert metrics["quantai_recommendation_accuracy"] == pytest.approx(ACCURACY)
    assert metrics["quantai_recommendation_base_rate"] == pytest.approx(BASE_RATE)
    assert metrics["quantai_recommendation_acceptance_rate"] == pytest.approx(ACCEPTANCE)
    # The live block is the stats API's shape too: the same share of rises and the same per-action figures.
    assert live["up_share"] == api["up_share"] == pytest.approx(0.25)
    assert live["by_action"] == api["by_action"] and [a["action"] for a in live["by_action"]] == ["BUY", "SELL", "HOLD"]
