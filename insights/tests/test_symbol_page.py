"""The per-symbol page ``/symbols/<SYMBOL>/``: only the five tradable stocks, only for signed-in users, each user sees
their own position and calls; the last 20 calls with their outcomes, the hit rate, the adjusted closes for the chart,
and the links to it from the positions table, the recommendation cards and a recommendation's page."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from market import calendar
from market.symbols import TRADABLE
from portfolios.factories import buy, funded_investor, price_bar
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus, RecommendationType

pytestmark = [pytest.mark.django_db]

LAST_DAY = date(2024, 6, 14)


def _sessions_back(n: int) -> list[date]:
    """The ``n`` sessions up to LAST_DAY, oldest first."""
    days = calendar.sessions(LAST_DAY - timedelta(days=3 * n + 10), LAST_DAY)
    return days[-n:]


def _chart(response) -> dict:
    match = re.search(r'<script id="symbol-data" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "the page embeds the chart data"
    return json.loads(match.group(1))


def _call(user, day: date, **kwargs):
    defaults = {
        "user": user,
        "symbol": "AAPL",
        "trading_date": day,
        "expires_on": calendar.next_trading_day(day),
        "evaluate_on": calendar.add_trading_days(day, 5),
        "status": RecommendationStatus.EXPIRED,
    }
    defaults.update(kwargs)
    return RecommendationFactory(**defaults)


@pytest.fixture
def alice():
    user = funded_investor("10000.00", username="alice")
    price_bar("AAPL", LAST_DAY, "190.00")
    buy(user, "AAPL", 10, "150.00")
    return user


@pytest.mark.parametrize("symbol", TRADABLE)
def test_each_tradable_symbol_has_a_page(client, alice, symbol):
    client.force_login(alice)
    response = client.get(f"/symbols/{symbol}/")
    assert response.status_code == 200
    assert reverse("symbol_detail", kwargs={"symbol": symbol}) == f"/symbols/{symbol}/"
    assert f"<h1>{symbol}" in response.content.decode()


@pytest.mark.parametrize("path", ["/symbols/SPY/", "/symbols/TSLA/", "/symbols/aapl/", "/symbols/AAPL%2F/", "/symbols/"])
def test_other_names_answer_404(client, alice, path):
    client.force_login(alice)
    assert client.get(path).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/symbols/AAPL/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_page_shows_the_users_position(client, alice):
    client.force_login(alice)
    html = client.get("/symbols/AAPL/").content.decode()
    assert 'id="position-shares">10 ' in html or 'id="position-shares">10<' in html
    assert "1,900.00 USD" in html  # 10 shares at the latest close of 190
    assert "+400.00 USD" in html  # unrealized: (190 - 150) x 10
    # GOOGL is not held
    html = client.get("/symbols/GOOGL/").content.decode()
    assert 'id="position-none"' in html
    assert "You hold no GOOGL" in html


def test_another_user_sees_only_their_own_position_and_calls(client, alice):
    mine = _call(alice, LAST_DAY, recommendation_reasoning="alice's call")
    bob = funded_investor("5000.00", username="bob")
    client.force_login(bob)
    response = client.get("/symbols/AAPL/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "You hold no AAPL" in html
    assert f'data-recommendation-id="{mine.pk}"' not in html
    assert "No recommendation on AAPL for you yet" in html
    assert 'id="position-shares"' not in html


def test_the_last_20_calls_newest_first_with_their_outcomes_and_the_hit_rate(client, alice):
    days = _sessions_back(25)
    calls = [_call(alice, d) for d in days]
    # Score the four newest: three right, one wrong (a SELL that rose).
    right = [calls[-1], calls[-2], calls[-3]]
    for rec in right:
        rec.outcome_evaluated, rec.direction_correct, rec.outcome_price = True, True, Decimal("104")
        rec.outcome_return_pct, rec.outcome_date = Decimal("4.0000"), rec.evaluate_on
        rec.save()
    wrong = calls[-4]
    wrong.recommendation_type, wrong.trade_side = RecommendationType.SELL, "SELL"
    wrong.outcome_evaluated, wrong.direction_correct, wrong.outcome_price = True, False, Decimal("103")
    wrong.outcome_return_pct, wrong.outcome_date = Decimal("-3.0000"), wrong.evaluate_on
    wrong.save()
    other_symbol = _call(alice, days[-1], symbol="NVDA")

    client.force_login(alice)
    html = client.get("/symbols/AAPL/").content.decode()
    listed = [int(i) for i in re.findall(r'<tr data-recommendation-id="(\d+)"', html)]
    assert listed == [c.pk for c in reversed(calls[-20:])]
    assert other_symbol.pk not in listed
    outcomes = dict(re.findall(r'<tr data-recommendation-id="(\d+)" data-outcome="(\w+)"', html))
    assert outcomes[str(right[0].pk)] == "right"
    assert outcomes[str(wrong.pk)] == "wrong"
    assert outcomes[str(calls[-5].pk)] == "pending"
    assert "4.00 %" in html and "-3.00 %" in html
    hit_rate = re.search(r'id="symbol-hit-rate">(.*?)</p>', html, re.S).group(1)
    assert "75 %" in hit_rate and "3 of 4 scored calls" in hit_rate


def test_the_chart_gets_every_stored_adjusted_close_and_the_calls(client, alice):
    days = _sessions_back(30)
    for i, d in enumerate(days):
        price_bar("AAPL", d, Decimal("100") + i)
    price_bar("NVDA", days[-1], "900.00")
    buy_call = _call(alice, days[-10], recommendation_type=RecommendationType.BUY)
    _call(alice, days[-5], recommendation_type=RecommendationType.HOLD, trade_side="")
    client.force_login(alice)
    response = client.get("/symbols/AAPL/")
    data = _chart(response)
    assert [p["time"] for p in data["series"]] == [d.isoformat() for d in days]
    assert Decimal(data["series"][0]["value"]) == Decimal("100")
    # BUY and SELL calls are marked; a HOLD is not.
    assert data["markers"] == [{"time": buy_call.trading_date.isoformat(), "action": "BUY", "correct": None}]
    html = response.content.decode()
    assert "adjusted for splits and dividends" in html
    assert 'data-range-for="symbol-price-chart"' in html and 'data-range-default="1Y"' in html
    for label in ("1M", "3M", "YTD", "1Y", "Max"):
        assert f">{label}</button>" in html
    assert "{#" not in html and "filters the points the page already has" not in html  # the partial's comment is not shown


def test_the_dashboard_and_a_recommendation_page_show_the_range_buttons_not_their_template_comment(client, alice):
    rec = _call(alice, LAST_DAY)
    client.force_login(alice)
    for path, chart in (("/portfolio/", "value-chart"), (f"/recommendations/{rec.pk}/", "rec-price-chart")):
        html = client.get(path).content.decode()
        assert f'data-range-for="{chart}"' in html, path
        assert "{#" not in html and "filters the points the page already has" not in html, path


def test_the_positions_table_and_the_recommendation_pages_link_to_the_symbol_page(client, alice):
    rec = _call(alice, LAST_DAY, status=RecommendationStatus.PENDING)
    client.force_login(alice)
    dashboard = client.get("/portfolio/").content.decode()
    assert '<th scope="row"><a href="/symbols/AAPL/">AAPL</a></th>' in dashboard
    detail = client.get(f"/recommendations/{rec.pk}/").content.decode()
    assert 'href="/symbols/AAPL/"' in detail
    card = client.get(f"/recommendations/{rec.pk}/card").content.decode()
    assert '<a href="/symbols/AAPL/">AAPL</a>' in card


def test_the_page_reads_a_fixed_number_of_queries(client, alice, django_assert_max_num_queries):
    for d in _sessions_back(20):
        _call(alice, d)
    client.force_login(alice)
    client.get("/symbols/AAPL/")  # warm the session and caches
    with django_assert_max_num_queries(25):
        assert client.get("/symbols/AAPL/").status_code == 200
