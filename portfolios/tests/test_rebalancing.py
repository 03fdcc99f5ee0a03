"""Rebalancing: minimum-variance targets under the profile's caps and cash buffer, and the trades to reach them."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from scipy.optimize import minimize

from accounts.models import RiskTolerance
from accounts.profiles import profile_for
from market.models import PriceBar, PriceSource
from market.symbols import TRADABLE
from portfolios.core import rebalancing
from portfolios.core.ledger import SHARE_STEP, gross_amount
from portfolios.core.rebalancing import RebalancingDataError, rebalancing_trades, target_weights
from portfolios.factories import buy, funded_investor, next_key
from portfolios.models import CashAccount, Position, TradeSource
from portfolios.selectors.rebalancing import RebalancingRefused, rebalancing_suggestion
from portfolios.services import trade_execute

D = Decimal
BASE = "/api/portfolio"
SYMBOLS = list(TRADABLE)
PROFILE_LIMITS = [
    (float(profile_for(t).max_position_weight), float(profile_for(t).cash_buffer))
    for t in (RiskTolerance.CONSERVATIVE, RiskTolerance.MODERATE, RiskTolerance.AGGRESSIVE)
]


def synthetic_closes(days: int = 300, seed: int = 7, vols: tuple[float, ...] = (0.01, 0.015, 0.02, 0.025, 0.03)) -> pd.DataFrame:
    """Correlated random walks (one common factor), one column per symbol, business days."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.008, days)
    returns = np.column_stack([0.5 * market + rng.normal(0.0003, v, days) for v in vols])
    closes = 100 * np.cumprod(1 + returns, axis=0)
    index = pd.bdate_range("2023-01-02", periods=days).date
    return pd.DataFrame(closes, index=index, columns=SYMBOLS[: len(vols)])


# --- Target weights (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("cap", "buffer"), PROFILE_LIMITS)
def test_weights_sum_to_one_minus_the_cash_buffer_respect_caps_and_are_non_negative(cap, buffer):
    targets = target_weights(synthetic_closes(), max_weight=cap, cash_buffer=buffer)
    weights = np.array(list(targets.weights.values()))
    invested = min(1 - buffer, len(SYMBOLS) * cap)
    assert weights.sum() == pytest.approx(invested, abs=1e-9)
    assert targets.cash_weight == pytest.approx(1 - invested, abs=1e-9) and targets.cash_weight >= buffer - 1e-12
    assert (weights >= 0).all() and (weights <= cap).all()
    assert set(targets.weights) == set(SYMBOLS)


def test_caps_that_cannot_hold_the_invested_share_leave_the_rest_in_cash():
    targets = target_weights(synthetic_closes(), max_weight=0.10, cash_buffer=0.20)
    assert targets.method == rebalancing.METHOD_CAPS_BIND
    assert targets.weights == {s: pytest.approx(0.10) for s in SYMBOLS}
    assert targets.cash_weight == pytest.approx(0.50)


def test_the_optimum_has_the_least_variance_any_solver_finds():
    closes = synthetic_closes(seed=11)
    cap, buffer = 0.30, 0.05
    targets = target_weights(closes, max_weight=cap, cash_buffer=buffer)
    cov = closes.pct_change().iloc[1:].tail(rebalancing.LOOKBACK_SESSIONS).cov().to_numpy() * rebalancing.TRADING_DAYS
    invested = 1 - buffer
    # An independent solver (SLSQP) on the same problem: weights of the whole portfolio.
    reference = minimize(
        lambda w: w @ cov @ w,
        np.full(5, invested / 5),
        method="SLSQP",
        bounds=[(0, cap)] * 5,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - invested}],
        options={"ftol": 1e-15, "maxiter": 500},
    )
    ours = np.array([targets.weights[s] for s in closes.columns])
    assert ours @ cov @ ours <= reference.fun * (1 + 1e-5)
    assert targets.volatility == pytest.approx(np.sqrt(ours @ cov @ ours))


def test_the_calmest_stock_gets_the_most_weight_and_the_wildest_the_least():
    targets = target_weights(synthetic_closes(vols=(0.005, 0.02, 0.02, 0.02, 0.06)), max_weight=0.30, cash_buffer=0.05)
    w = targets.weights
    assert w[SYMBOLS[0]] == pytest.approx(0.30, abs=1e-6)  # capped
    assert w[SYMBOLS[4]] == min(w.values())


def test_the_same_closes_give_the_same_weights():
    closes = synthetic_closes(seed=3)
    first = target_weights(closes, max_weight=0.20, cash_buffer=0.15)
    second = target_weights(closes.copy(), max_weight=0.20, cash_buffer=0.15)
    assert first == second


def test_only_the_last_year_of_returns_counts():
    closes = synthetic_closes(days=400, seed=5)
    recent = closes.iloc[-(rebalancing.LOOKBACK_SESSIONS + 1) :]
    noisy_past = closes.copy()
    noisy_past.iloc[:100] *= np.linspace(0.2, 5, 100)[:, None] ** np.arange(1, 6)  # wild moves outside the window
    expected = target_weights(recent, max_weight=0.30, cash_buffer=0.05)
    assert target_weights(noisy_past, max_weight=0.30, cash_buffer=0.05).weights == pytest.approx(expected.weights, abs=1e-7)
    assert expected.window_end == closes.index[-1] and expected.observations == rebalancing.LOOKBACK_SESSIONS


def test_too_short_a_history_or_a_symbol_without_closes_is_refused():
    with pytest.raises(RebalancingDataError, match="at least"):
        target_weights(synthetic_closes(days=30), max_weight=0.3, cash_buffer=0.05)
    closes = synthetic_closes()
    closes[SYMBOLS[2]] = np.nan
    with pytest.raises(RebalancingDataError, match=SYMBOLS[2]):
        target_weights(closes, max_weight=0.3, cash_buffer=0.05)


def test_real_prices_give_capped_min_variance_weights(shared_prices_dir):
    frames = {s: pd.read_csv(shared_prices_dir / f"{s}.csv", index_col="date", parse_dates=True)["close"] for s in SYMBOLS}
    closes = pd.DataFrame(frames).loc[:"2023-12-29"]
    targets = target_weights(closes, max_weight=0.20, cash_buffer=0.15)
    assert targets.method == rebalancing.METHOD_MIN_VARIANCE and targets.window_end == date(2023, 12, 29)
    assert sum(targets.weights.values()) == pytest.approx(0.85, abs=1e-9)
    assert max(targets.weights.values()) <= 0.20


# --- Trades (pure) -------------------------------------------------------------------------------------------

money = st.decimals(min_value=D("0"), max_value=D("200000"), places=2)
shares = st.decimals(min_value=D("0"), max_value=D("5000"), places=4)
price = st.decimals(min_value=D("1.00"), max_value=D("3000"), places=2)


@st.composite
def portfolios_and_targets(draw):
    holdings = {s: draw(shares) for s in SYMBOLS}
    prices = {s: draw(price) for s in SYMBOLS}
    raw = np.array([draw(st.floats(0, 1)) for _ in SYMBOLS])
    invested = draw(st.floats(0, 1))
    weights = raw / raw.sum() * invested if raw.sum() > 0 else raw
    return holdings, prices, draw(money), {s: float(w) for s, w in zip(SYMBOLS, weights, strict=True)}


@given(portfolios_and_targets())
@hypothesis_settings(max_examples=300, deadline=None)
def test_trades_reach_the_targets_within_rounding_without_overselling_or_overspending(case):
    holdings, prices, cash, weights = case
    plan = rebalancing_trades(holdings=holdings, prices=prices, cash=cash, weights=weights)
    sells = {t.symbol: t for t in plan.trades if t.side == "SELL"}
    buys = {t.symbol: t for t in plan.trades if t.side == "BUY"}
    assert not set(sells) & set(buys)
    for t in plan.trades:
        assert t.shares > 0 and t.shares == t.shares.quantize(SHARE_STEP) and t.price == prices[t.symbol]
        assert t.amount == gross_amount(t.shares, t.price)
    for s, t in sells.items():
        assert t.shares <= holdings[s]
    cash_after_sells = cash + sum((t.amount for t in sells.values()), D(0))
    assert sum((t.amount for t in buys.values()), D(0)) <= cash_after_sells
    assert plan.cash_after >= 0

    total = cash + sum((gross_amount(holdings[s], prices[s]) for s in SYMBOLS), D(0))
    for row in plan.rows:
        assert row.shares_after >= 0
        target_value = D(repr(weights[row.symbol])) * total
        # Rounded down by less than a share step, plus a cent of rounding on each value. A buy may also fall short
        # by what the other symbols' rounded-down sells did not free (a share step each), and by the trimming of
        # cent-rounded buys that would overspend (half a cent each; a trim overshoots by at most a step and a cent).
        steps = sum((p * SHARE_STEP for p in prices.values()), D(0))
        trim = steps + D("0.01") * len(buys) + row.price * SHARE_STEP + D("0.01")
        slack = row.price * SHARE_STEP + D("0.02") + (trim if row.symbol in buys else 0)
        assert abs(row.value_after - target_value) <= slack, row


def test_a_symbol_with_no_target_is_sold_entirely_and_nothing_is_shorted():
    plan = rebalancing_trades(
        holdings={"AAPL": D("3.5"), "NVDA": D("2")},
        prices={"AAPL": D("100.00"), "NVDA": D("50.00")},
        cash=D("0.00"),
        weights={"NVDA": 1.0},
    )
    assert [(t.side, t.symbol, t.shares) for t in plan.trades] == [("SELL", "AAPL", D("3.5")), ("BUY", "NVDA", D("7"))]
    assert plan.cash_after == D("0.00")


# --- The suggestion from the database, the API, the dashboard ----------------------------------------------


def seed_bars(closes: pd.DataFrame) -> None:
    PriceBar.objects.bulk_create(
        PriceBar(
            symbol=s,
            date=day,
            open=D(f"{v:.4f}"),
            high=D(f"{v:.4f}"),
            low=D(f"{v:.4f}"),
            close=D(f"{v:.4f}"),
            adj_close=D(f"{v:.4f}"),
            volume=1_000_000,
            source=PriceSource.CSV,
        )
        for s in closes.columns
        for day, v in closes[s].items()
    )


@pytest.fixture
def flag_on(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "portfolio_rebalancing": True}


@pytest.fixture
def closes(db):
    frame = synthetic_closes(days=150, seed=21)
    seed_bars(frame)
    return frame


@pytest.fixture
def alice(db):
    return funded_investor("20000.00", username="alice", risk_tolerance=RiskTolerance.MODERATE)


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.django_db
def test_with_the_flag_off_the_suggestion_is_refused(api, closes):
    assert_error(api.get(f"{BASE}/me/rebalancing"), 409, "feature_disabled")


@pytest.mark.django_db
def test_another_investors_suggestion_is_not_found(api, closes, flag_on):
    bob = funded_investor("500.00", username="bob")
    for user_id in (bob.pk, 999999, "abc"):
        assert_error(api.get(f"{BASE}/{user_id}/rebalancing"), 404, "not_found")
    assert api.get(f"{BASE}/me/rebalancing").json() == api.get(f"{BASE}/{api.handler._force_user.pk}/rebalancing").json()


@pytest.mark.django_db
def test_anonymous_callers_are_refused(closes, flag_on):
    assert APIClient().get(f"{BASE}/me/rebalancing").status_code == 401


@pytest.mark.django_db
def test_missing_prices_are_refused(api, flag_on):
    assert_error(api.get(f"{BASE}/me/rebalancing"), 409, "prices_missing")
    seed_bars(synthetic_closes(days=20))
    assert "at least" in assert_error(api.get(f"{BASE}/me/rebalancing"), 409, "prices_missing")["message"]


@pytest.mark.django_db
def test_open_shorts_are_refused(settings, flag_on, closes):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "short_selling": True}
    carol = funded_investor("20000.00", username="carol", risk_tolerance=RiskTolerance.AGGRESSIVE)
    trade_execute(
        user=carol,
        symbol="AAPL",
        side="SHORT",
        shares=D("1"),
        price=D("100.00"),
        idempotency_key=next_key(),
        source=TradeSource.MANUAL,
    )
    with pytest.raises(RebalancingRefused) as refused:
        rebalancing_suggestion(user=carol)
    assert refused.value.code == "short_positions_open"


@pytest.mark.django_db
def test_recording_the_suggested_trades_reaches_the_targets(api, alice, closes, flag_on):
    buy(alice, "AAPL", 60, "100.00")  # an unbalanced start: one big position
    buy(alice, "NVDA", "10.5", "90.00")
    body = api.get(f"{BASE}/me/rebalancing").json()
    targets = body["target_weights"]
    assert sum(targets.values()) == pytest.approx(1 - float(profile_for(RiskTolerance.MODERATE).cash_buffer), abs=1e-5)
    assert max(targets.values()) <= float(profile_for(RiskTolerance.MODERATE).max_position_weight) + 1e-6
    assert [t["side"] for t in body["trades"]] == sorted((t["side"] for t in body["trades"]), key=["SELL", "BUY"].index)

    # Every suggested trade goes through the real trade service: no oversell, no overspend is refused.
    for t in body["trades"]:
        trade_execute(
            user=alice,
            symbol=t["symbol"],
            side=t["side"],
            shares=D(t["shares"]),
            price=D(t["price"]),
            idempotency_key=next_key(),
            source=TradeSource.MANUAL,
        )
    total = D(body["total_value"])
    held = {p.symbol: p.shares for p in Position.objects.filter(user=alice)}
    latest = closes.iloc[-1]
    for s in SYMBOLS:
        price = D(f"{latest[s]:.2f}")
        value = gross_amount(held.get(s, D(0)), price)
        assert abs(value - D(repr(targets[s])) * total) <= price * SHARE_STEP + D("0.05"), s
    cash = CashAccount.objects.get(user=alice).balance
    assert cash == D(body["cash_after"]) and cash / total >= D("0.149")


@pytest.mark.django_db
def test_prices_after_the_as_of_date_are_not_used(alice, closes, flag_on):
    buy(alice, "GOOGL", 20, "100.00")
    as_of = closes.index[-1]
    before = rebalancing_suggestion(user=alice, as_of=as_of)
    later = synthetic_closes(days=10, seed=99) * 3  # very different prices after the as-of date
    later.index = [as_of + timedelta(days=i + 1) for i in range(10)]
    seed_bars(later)

    again = rebalancing_suggestion(user=alice, as_of=as_of)
    assert again.targets == before.targets and again.plan == before.plan
    assert before.prices_as_of == as_of
    assert {t.symbol: t.price for t in before.plan.trades} == {
        t.symbol: D(f"{closes[t.symbol].iloc[-1]:.2f}") for t in before.plan.trades
    }
    newest = rebalancing_suggestion(user=alice)  # no as-of: the latest bar, so the new prices
    assert newest.prices_as_of == later.index[-1]
    assert {r.symbol: r.price for r in newest.plan.rows} == {s: D(f"{later[s].iloc[-1]:.2f}") for s in SYMBOLS}


@pytest.mark.django_db
def test_the_suggestion_is_deterministic(api, alice, closes, flag_on):
    buy(alice, "META", "7.25", "80.00")
    assert api.get(f"{BASE}/me/rebalancing").json() == api.get(f"{BASE}/me/rebalancing").json()


@pytest.mark.django_db
def test_the_endpoint_is_in_the_openapi_schema(api):
    paths = json.loads(api.get("/api/schema/", {"format": "json"}).content)["paths"]
    operation = paths["/api/portfolio/{user_id}/rebalancing"]["get"]
    assert {"200", "401", "404", "409"} <= set(operation["responses"])


@pytest.mark.django_db
def test_the_dashboard_shows_the_suggestion_only_with_the_flag_on(client, alice, closes, settings, monkeypatch):
    buy(alice, "AAPL", 60, "100.00")
    client.force_login(alice)
    calls = []
    from portfolios import views

    real_panel = views.rebalancing_panel
    monkeypatch.setattr(views, "rebalancing_panel", lambda **kw: calls.append(kw) or real_panel(**kw))

    html = client.get("/portfolio/").content.decode()
    assert 'id="rebalancing"' not in html and calls == []  # flag off: nothing computed, nothing shown

    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "portfolio_rebalancing": True}
    html = client.get("/portfolio/").content.decode()
    assert 'id="rebalancing"' in html and len(calls) == 1
    assert 'data-side="SELL"' in html and "AAPL" in html and "Moderate" in html
