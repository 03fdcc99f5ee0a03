"""The learned per-user profile (hand-checked smoothing, threshold, risk adaptation) and how generation applies it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.factories import buy, funded_investor
from recommendations.core import bandit, learned_profile, sizing
from recommendations.factories import RecommendationFactory, signal_batch
from recommendations.models import Recommendation, RecommendationStatus, UserPreferenceProfile
from recommendations.services import recommendations_generate
from recommendations.services.personalise import Personaliser, preference_profiles_recompute, risk_rule_sale
from recommendations.tests.conftest import DOWN, UP, make_market

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def answers(rows: list[tuple[str, float, bool, float, float]]) -> pd.DataFrame:
    """(symbol, confidence, accepted, recommended shares, actual shares or NaN), one minute apart."""
    return pd.DataFrame.from_records(
        [
            {
                "timestamp": T0 + timedelta(minutes=i),
                "symbol": s,
                "confidence": c,
                "accepted": a,
                "has_trade": a and not np.isnan(actual),
                "recommended_shares": rec,
                "actual_shares": actual,
            }
            for i, (s, c, a, rec, actual) in enumerate(rows)
        ],
        columns=list(learned_profile.RESPONSE_COLUMNS),
    )


# --- smoothing, threshold, risk adaptation on hand examples --------------------------------------------------------


def test_smoothed_rate_is_the_beta_posterior_mean():
    assert learned_profile.smoothed_rate(3, 4, prior=0.5, strength=2) == pytest.approx(4 / 6)
    assert learned_profile.smoothed_rate(0, 0, prior=0.3, strength=4) == pytest.approx(0.3)
    assert learned_profile.smoothed_rate(30, 30, prior=0.5, strength=4) == pytest.approx(32 / 34)


def test_symbol_preferences_shrink_toward_the_users_average_and_firm_up_with_answers():
    nan = float("nan")
    rows = [("AAPL", 0.6, True, 1, nan)] * 4 + [("NVDA", 0.6, False, 1, nan)] * 4 + [("GOOGL", 0.6, True, 1, nan)]
    rows += [("GOOGL", 0.6, False, 1, nan)]
    profile = learned_profile.build_profile(answers(rows))

    assert (profile.responses, profile.accepted) == (10, 5)
    assert profile.acceptance_rate == pytest.approx((5 + 1) / (10 + 2))  # Laplace: 0.5
    assert 0.6 < profile.symbol_rate("AAPL") < 0.85  # four accepts: liked, but not "always" after four answers
    assert 0.15 < profile.symbol_rate("NVDA") < 0.4
    assert profile.symbol_rate("GOOGL") == pytest.approx(0.5, abs=0.01)  # one of two: the user's average
    assert profile.symbol_rate("META") == pytest.approx(profile.acceptance_rate)  # never answered
    assert profile.symbol_counts == {"AAPL": 4, "GOOGL": 2, "NVDA": 4}

    more = learned_profile.build_profile(answers(rows + [("AAPL", 0.6, True, 1, nan)] * 8 + [("NVDA", 0.6, False, 1, nan)] * 8))
    assert more.symbol_rate("AAPL") > profile.symbol_rate("AAPL") and more.symbol_rate("NVDA") < profile.symbol_rate("NVDA")


def test_stocks_rejected_only_for_their_low_confidence_are_not_learned_as_disliked():
    """AMZN's and META's cards were all below the user's threshold: the threshold explains their rejections."""
    nan = float("nan")
    rows = [(s, c, False, 1, nan) for s, c in (("AMZN", 0.49), ("META", 0.5)) for _ in range(6)]  # always rejected
    rows += [("AAPL", 0.60, i % 4 != 0, 1, nan) for i in range(8)]  # 6 of 8
    rows += [("NVDA", 0.60, i % 4 == 0, 1, nan) for i in range(8)]  # 2 of 8
    profile = learned_profile.build_profile(answers(rows))

    assert profile.confidence_threshold is not None and 0.5 < profile.confidence_threshold <= 0.60
    assert profile.symbol_counts == {"AAPL": 8, "AMZN": 0, "META": 0, "NVDA": 8}
    for stock in ("AMZN", "META"):
        assert profile.symbol_rate(stock) == pytest.approx(0.5, abs=0.03)  # the user's average on clearing cards
    assert profile.symbol_rate("NVDA") < 0.4 < profile.symbol_rate("AMZN") < 0.6 < profile.symbol_rate("AAPL")
    summary = learned_profile.learned_summary(profile)
    assert [s for s, _rate, _count in summary.symbols] == ["AAPL", "NVDA"]  # AMZN, META: nothing learned, nothing said
    assert "You act most on AAPL and least on NVDA." in summary.lines


def test_one_stock_rejected_at_its_own_confidence_is_a_dislike_not_a_threshold():
    """Every card below 0.55 was AMZN's: a rule about confidence and a dislike of AMZN fit alike, and a confidence rule
    shows across stocks, so this is AMZN."""
    nan = float("nan")
    rows = [("AMZN", 0.5, False, 1, nan)] * 10
    rows += [(s, 0.6, i % 4 != 0, 1, nan) for s in ("AAPL", "NVDA") for i in range(8)]
    profile = learned_profile.build_profile(answers(rows))

    assert profile.confidence_threshold is None
    assert profile.symbol_rate("AMZN") < 0.3 < profile.symbol_rate("AAPL")
    assert learned_profile.learned_summary(profile).lines[1].endswith("least on AMZN.")


def test_a_symbol_is_not_blamed_for_the_action_of_its_cards():
    """The user takes 3 BUYs in 4 and 1 SELL in 5, whatever the stock; AMZN's cards happened to be mostly SELLs. Its raw
    acceptance (6 of 19) is half the others' (13 of 21), but it is liked as much as they are."""
    nan = float("nan")
    rows, actions = [], []
    for symbol, buys, sells in (("AMZN", 4, 15), ("AAPL", 16, 5), ("GOOGL", 16, 5), ("NVDA", 16, 5)):
        rows += [(symbol, 0.6, i % 4 != 0, 1, nan) for i in range(buys)]  # 3 in 4
        rows += [(symbol, 0.6, i % 5 == 0, 1, nan) for i in range(sells)]  # 1 in 5
        actions += ["BUY"] * buys + ["SELL"] * sells
    frame = answers(rows)
    frame["action"] = actions
    profile = learned_profile.build_profile(frame)

    others = [profile.symbol_rate(s) for s in ("AAPL", "GOOGL", "NVDA")]
    assert all(abs(profile.symbol_rate("AMZN") - rate) < 0.05 for rate in others)
    assert profile.action_rate("BUY") > profile.action_rate("SELL")


def test_a_dislike_of_the_least_confident_stock_is_not_learned_as_a_threshold():
    """AMZN's cards are the least confident of the month and the user takes one in three of them (two in three of the
    others): a lower rate, not a rule, so no threshold, and AMZN is the least liked."""
    nan = float("nan")
    rows = [("AMZN", 0.52, i % 3 == 0, 1, nan) for i in range(15)]
    rows += [(s, 0.60, i % 3 != 0, 1, nan) for s in ("AAPL", "GOOGL") for i in range(15)]
    profile = learned_profile.build_profile(answers(rows))

    assert profile.confidence_threshold is None
    assert profile.symbol_rate("AMZN") < 0.45 < 0.55 < profile.symbol_rate("AAPL")
    assert learned_profile.learned_summary(profile).lines[1].endswith("least on AMZN.")


def test_the_threshold_is_where_the_user_starts_accepting():
    confidences = [0.52, 0.54, 0.56, 0.58, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70]
    accepted = np.array([c >= 0.60 for c in confidences])

    t, below, above = learned_profile.confidence_threshold(np.array(confidences), accepted)

    assert t == pytest.approx(0.59)
    assert below == pytest.approx((0 + 1) / (4 + 2))
    assert above == pytest.approx((6 + 1) / (6 + 2))


def test_no_threshold_without_evidence():
    conf = np.linspace(0.5, 0.8, 12)
    assert learned_profile.confidence_threshold(conf, np.ones(12, dtype=bool)) == (None, None, None)  # never rejects
    assert learned_profile.confidence_threshold(conf[:5], np.array([False, False, True, True, True])) == (
        None,
        None,
        None,
    )  # too few
    alternating = np.arange(12) % 2 == 0  # acceptance unrelated to confidence
    assert learned_profile.confidence_threshold(conf, alternating)[0] is None


def test_a_user_below_their_threshold_is_expected_to_reject_more():
    rows = [(s, c, c >= 0.6, 1, float("nan")) for c in np.linspace(0.5, 0.7, 11) for s in ("AAPL", "GOOGL")]
    profile = learned_profile.build_profile(answers(rows))
    assert profile.confidence_threshold is not None
    assert profile.expected_acceptance("AAPL", 0.55) < profile.expected_acceptance("AAPL", 0.65)


def test_a_user_who_keeps_halving_sizes_gets_about_half():
    rows = [("AAPL", 0.6, True, 10.0, 5.0)] * 20
    profile = learned_profile.build_profile(answers(rows))
    assert profile.size_scale == pytest.approx((20 * 0.5 + 3) / (20 + 3))
    assert profile.size_samples == 20


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(0.01, learned_profile.MIN_SIZE_SCALE), (3.0, 1.0), (1.0, 1.0)],
    ids=["never-below-a-quarter", "buying-more-never-grows-sizes", "full-size"],
)
def test_risk_adaptation_is_bounded(ratio, expected):
    scale, _ = learned_profile.size_scale(np.full(30, 10.0), np.full(30, 10.0 * ratio))
    assert scale == pytest.approx(expected)


def test_only_recent_trades_count_for_risk_adaptation():
    old = [("AAPL", 0.6, True, 10.0, 2.0)] * 30
    recent = [("AAPL", 0.6, True, 10.0, 10.0)] * learned_profile.SIZE_WINDOW
    assert learned_profile.build_profile(answers(old + recent)).size_scale == pytest.approx(1.0)


def test_a_profile_survives_its_json_form():
    rows = [("AAPL", c, c >= 0.6, 10.0, 4.0 if c >= 0.6 else float("nan")) for c in np.linspace(0.5, 0.7, 11)]
    profile = learned_profile.build_profile(answers(rows))
    assert learned_profile.Profile.from_dict(profile.as_dict()) == profile
    assert learned_profile.Profile.from_dict(None) == learned_profile.NEUTRAL


def test_action_rates_are_learned_and_a_declined_action_is_expected_less_often():
    frame = answers([("AAPL", 0.6, i % 4 != 0, 1, float("nan")) for i in range(20)] * 2)
    frame["action"] = ["BUY"] * 20 + ["HOLD"] * 20
    frame.loc[20:, "accepted"] = [i % 5 == 0 for i in range(20)]  # HOLDs: 4 of 20 accepted, BUYs: 15 of 20
    profile = learned_profile.build_profile(frame)

    assert profile.action_counts == {"BUY": 20, "HOLD": 20}
    overall = profile.acceptance_rate
    assert profile.action_rate("BUY") == pytest.approx((15 + 4 * overall) / (20 + 4))
    assert profile.action_rate("HOLD") == pytest.approx((4 + 4 * overall) / (20 + 4))
    assert profile.action_rate("SELL") == pytest.approx(overall)  # never answered: no effect
    assert (
        profile.expected_acceptance("AAPL", 0.6, "BUY")
        > profile.expected_acceptance("AAPL", 0.6)
        > (profile.expected_acceptance("AAPL", 0.6, "HOLD"))
    )
    assert learned_profile.Profile.from_dict(profile.as_dict()) == profile


def test_the_risk_ceiling_is_where_the_user_stops_accepting():
    risks = np.linspace(0.1, 0.6, 11)
    ceiling, above, below = learned_profile.risk_ceiling(risks, risks <= 0.35)
    assert ceiling == pytest.approx(0.375)
    assert above == pytest.approx((0 + 1) / (5 + 2))
    assert below == pytest.approx((6 + 1) / (6 + 2))
    assert learned_profile.risk_ceiling(risks, np.arange(11) % 2 == 0)[0] is None  # unrelated to risk: no ceiling

    frame = answers([(s, 0.6, bool(r <= 0.35), 1, float("nan")) for r in risks for s in ("AAPL", "GOOGL")])
    frame["risk_score"] = np.repeat(risks, 2)
    profile = learned_profile.build_profile(frame)
    assert profile.risk_ceiling == pytest.approx(0.375)
    assert profile.expected_acceptance("AAPL", 0.6, risk_score=0.5) < profile.expected_acceptance("AAPL", 0.6, risk_score=0.2)


def test_a_likelier_hold_comes_before_a_trade_the_user_usually_declines():
    tiers = [
        learned_profile.ranking_tier("BUY", "BUY"),
        learned_profile.ranking_tier("HOLD", ""),
        learned_profile.ranking_tier("SELL", "SELL"),
    ]
    assert learned_profile.rank_order(tiers, [0.2, 0.8, 0.1]).tolist() == [3, 2, 1]  # the held sale stays first


def test_the_risk_rules_call_for_a_trim_above_the_cap_and_an_exit_but_a_rebalancing_sale_is_a_choice():
    def tier(reason: str | None, weight_after: float | None) -> int:
        return learned_profile.ranking_tier("SELL", "SELL", reason=reason, weight_after=weight_after)

    assert tier(sizing.WEIGHT_LIMIT, 0.2) == learned_profile.TIER_HELD_SELL  # above the profile's cap
    assert tier(sizing.TARGET, 0.0) == learned_profile.TIER_HELD_SELL  # the policy holds none of it
    assert tier(sizing.TARGET, 0.12) == learned_profile.TIER_OTHER  # down to a lower target weight
    assert tier(None, None) == learned_profile.TIER_HELD_SELL  # no sizing facts: every held sale is called for
    short_sale = learned_profile.ranking_tier("SELL", "SHORT", reason=sizing.WEIGHT_LIMIT, weight_after=0.0)
    assert short_sale == learned_profile.TIER_OTHER


def test_scores_closer_than_the_resolution_keep_the_default_order():
    assert learned_profile.rank_order([1, 1, 1], [0.50, 0.53, 0.71]).tolist() == [2, 3, 1]
    assert learned_profile.rank_order([1, 1, 1], [0.50, 0.53, 0.71], resolution=0).tolist() == [3, 2, 1]


# --- invariants of applying a profile (hypothesis) -----------------------------------------------------------------


@st.composite
def sized_books(draw: st.DrawFn) -> tuple[sizing.Sizing, sizing.Accounts, sizing.Market, np.ndarray]:
    n = draw(st.integers(1, 12))
    floats = st.floats(0, 1e5, allow_nan=False)
    equity = np.array(draw(st.lists(st.just(0.0) | st.floats(1, 1e6), min_size=n, max_size=n)))
    held_long = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 7.5, 250.0]), min_size=n, max_size=n)))
    held_short = np.where(held_long > 0, 0.0, np.array(draw(st.lists(st.sampled_from([0.0, 3.0]), min_size=n, max_size=n))))
    accounts = sizing.Accounts(
        equity=equity,
        cash=equity * draw(st.floats(0, 1)),
        available_cash=equity * draw(st.floats(0, 1)),
        held_long=held_long,
        held_short=held_short,
        other_var=np.array(draw(st.lists(floats, min_size=n, max_size=n))),
        max_weight=np.full(n, draw(st.sampled_from([0.1, 0.2, 0.3]))),
        var_budget=np.full(n, draw(st.sampled_from([0.015, 0.025, 0.04]))),
    )
    market = sizing.Market(
        price=draw(st.floats(1, 1000)),
        sigma_1d=draw(st.floats(0, 0.08)),
        p_up=draw(st.floats(0, 1)),
        payoff_ratio=draw(st.floats(0.3, 3)),
    )
    scale = np.array(draw(st.lists(st.floats(-1, 2) | st.just(float("nan")), min_size=n, max_size=n)))
    target = draw(st.floats(0, float(accounts.max_weight[0])))
    sized = sizing.size_to_target(accounts, market, target_weight=target, min_trade=draw(st.sampled_from([0.0, 0.05])))
    return sized, accounts, market, scale


@settings(max_examples=300, deadline=None)
@given(sized_books())
def test_personalisation_never_flips_direction_grows_a_size_or_shrinks_a_sale_of_held_shares(book):
    sized, accounts, market, scale = book
    adapted = learned_profile.adapt_sizing(
        sized,
        scale,
        price=market.price,
        sigma_1d=market.sigma_1d,
        equity=np.maximum(accounts.equity, 0),
        other_var=accounts.other_var,
        var_budget=accounts.var_budget,
    )

    assert (adapted.action == sized.action).all() and (adapted.side == sized.side).all()
    assert (adapted.reason == sized.reason).all()
    assert (adapted.shares <= sized.shares).all()  # never above what the risk limits allowed
    assert ((adapted.shares > 0) == (sized.shares > 0)).all()  # a trade stays a trade
    held_sale = sized.side == sizing.SIDE_SELL
    assert (adapted.shares[held_sale] == sized.shares[held_sale]).all()
    assert (adapted.shares >= np.minimum(sized.shares, sizing.floor_shares(sized.shares * learned_profile.MIN_SIZE_SCALE))).all()
    assert (adapted.weight_after <= sized.weight_after + 1e-9).all()
    assert (adapted.risk_score <= sized.risk_score + 1e-9).all()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["BUY", "SELL", "HOLD"]), st.sampled_from(["BUY", "SELL", "SHORT", "COVER", ""]), st.floats()),
        min_size=1,
        max_size=10,
    )
)
def test_ranking_keeps_every_recommendation_and_puts_sales_of_held_shares_first(items):
    tiers = [learned_profile.ranking_tier(a, s) for a, s, _ in items]
    ranks = learned_profile.rank_order(tiers, [score for *_, score in items])

    assert sorted(ranks.tolist()) == list(range(1, len(items) + 1))  # nothing hidden
    held_sales = [r for r, (a, s, _) in zip(ranks, items, strict=True) if a == "SELL" and s == "SELL"]
    others = [r for r, (a, s, _) in zip(ranks, items, strict=True) if not (a == "SELL" and s == "SELL")]
    if held_sales and others:
        assert max(held_sales) < min(others)


def test_within_a_tier_the_likelier_answer_comes_first():
    assert learned_profile.rank_order([1, 1, 1, 2], [0.2, 0.9, 0.5, 0.99]).tolist() == [3, 1, 2, 4]


# --- generation with and without the flag --------------------------------------------------------------------------


def _store_profile(user, answers: list[tuple[str, str, bool, int]] | None = None, **kwargs) -> None:
    """A stored profile; ``answers`` (symbol, action, accepted, times) become the bandit's statistics."""
    profile = learned_profile.Profile(**kwargs)
    data = profile.as_dict()
    if answers:
        contexts = [
            bandit.context_vector(symbol=s, action=a, confidence=0.6, risk_score=0.3, size_pct=0.05)
            for s, a, _, n in answers
            for _ in range(n)
        ]
        rewards = [float(ok) for _, _, ok, n in answers for _ in range(n)]
        data["bandit"] = bandit.stats_from_answers(contexts, rewards).as_dict()
    UserPreferenceProfile.objects.create(
        user=user, responses=profile.responses, size_scale=Decimal(str(profile.size_scale)), profile=data
    )


def _flag(settings_fixture, on: bool) -> None:
    settings_fixture.FEATURE_FLAGS = {**settings_fixture.FEATURE_FLAGS, "personalised_recommendations": on}


FIELDS = ("symbol", "recommendation_type", "trade_side", "recommended_shares", "risk_score", "recommendation_reasoning")


def _rows(user) -> list[tuple]:
    return list(Recommendation.objects.filter(user=user).order_by("symbol").values_list(*FIELDS))


@pytest.mark.django_db
def test_with_the_flag_off_a_learned_profile_changes_nothing(signal_day, settings):
    _flag(settings, False)
    closes = make_market(signal_day)
    learned = funded_investor("20000.00")
    plain = funded_investor("20000.00")
    for user in (learned, plain):
        buy(user, "AAPL", 20, closes["AAPL"].quantize(Decimal("0.01")))
    _store_profile(learned, responses=40, size_scale=0.25, symbol_rates={"NVDA": 0.95, "AMZN": 0.05})
    assert Personaliser.for_users([learned]) is None

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.2, "NVDA": 0.7, "AMZN": 0.7}))

    assert _rows(learned) == _rows(plain)
    assert len(_rows(learned)) == 5
    learned_recs = Recommendation.objects.filter(user=learned)
    assert all(r.priority is None and r.acceptance_probability is None for r in learned_recs)
    assert all("personalisation" not in r.model_features for r in learned_recs)
    features = {r.symbol: r.model_features for r in learned_recs}
    assert features == {r.symbol: r.model_features for r in Recommendation.objects.filter(user=plain)}


@pytest.mark.django_db
def test_with_the_flag_on_a_shrinking_user_gets_smaller_buys_but_the_same_sales_and_directions(signal_day, settings):
    _flag(settings, True)
    # AAPL's trend turned down (the policy sells it all); NVDA and AMZN rise (bought); GOOGL and META fall (no card acts).
    closes = make_market(signal_day, drift={"AAPL": DOWN, "NVDA": UP, "AMZN": UP, "GOOGL": DOWN, "META": DOWN})
    shrinker = funded_investor("20000.00")
    plain = funded_investor("20000.00")
    for user in (shrinker, plain):
        buy(user, "AAPL", 20, closes["AAPL"].quantize(Decimal("0.01")))
    _store_profile(
        shrinker,
        [("NVDA", "BUY", True, 20), ("AMZN", "BUY", False, 20), ("AAPL", "SELL", False, 20)],
        responses=60,
        size_scale=0.5,
        symbol_rates={"NVDA": 0.95, "AMZN": 0.05, "AAPL": 0.01},
    )

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.2, "NVDA": 0.7, "AMZN": 0.7}))

    mine = {r.symbol: r for r in Recommendation.objects.filter(user=shrinker)}
    theirs = {r.symbol: r for r in Recommendation.objects.filter(user=plain)}
    assert {s: r.recommendation_type for s, r in mine.items()} == {s: r.recommendation_type for s, r in theirs.items()}
    assert (
        mine["AAPL"].recommendation_type == "SELL" and mine["AAPL"].recommended_shares == theirs["AAPL"].recommended_shares == 20
    )
    for symbol in ("NVDA", "AMZN"):
        base = theirs[symbol].recommended_shares
        assert mine[symbol].recommendation_type == "BUY" and 0 < mine[symbol].recommended_shares < base
        assert mine[symbol].recommended_shares >= (base * Decimal("0.5")).quantize(Decimal("0.0001")) - Decimal("0.0001")
        assert mine[symbol].model_features["personalisation"]["base_shares"] == pytest.approx(float(base))
        # The card says why the size is below what the risk limits allowed; the unshrunk user's does not.
        shares = f"{mine[symbol].recommended_shares.normalize():f}"
        assert f"sized it down to {shares} shares" in mine[symbol].recommendation_reasoning.lower()
        assert "usually take smaller" in mine[symbol].recommendation_reasoning
        assert "sized down" not in theirs[symbol].recommendation_reasoning.lower()
    assert "sized down" not in mine["AAPL"].recommendation_reasoning.lower()  # a sale is never shrunk
    # Selling the whole position (the policy holds none of it) is a sale the risk rules call for: it comes first and
    # open even though this user always rejected AAPL sales; then NVDA.
    assert mine["AAPL"].model_features["personalisation"]["risk_rule_sale"] is True
    assert [mine[s].priority for s in ("AAPL", "NVDA")] == [1, 2] and mine["AMZN"].priority > 2
    assert mine["AAPL"].model_features["personalisation"]["folded"] is False
    assert mine["NVDA"].acceptance_probability > mine["AMZN"].acceptance_probability
    assert theirs["AAPL"].priority == 1 and theirs["NVDA"].model_features["personalisation"]["size_scale"] == 1.0


def test_only_a_trim_above_the_cap_or_an_exit_is_a_risk_rule_sale():
    def rec(action: str, side: str, sizing_facts: dict | None) -> Recommendation:
        return Recommendation(
            recommendation_type=action, trade_side=side, model_features={"sizing": sizing_facts} if sizing_facts else {}
        )

    assert risk_rule_sale(rec("SELL", "SELL", {"reason": sizing.WEIGHT_LIMIT, "weight_after": 0.2}))
    assert risk_rule_sale(rec("SELL", "SELL", {"reason": sizing.TARGET, "weight_after": 0.0}))
    assert not risk_rule_sale(rec("SELL", "SELL", {"reason": sizing.TARGET, "weight_after": 0.11}))
    assert not risk_rule_sale(rec("BUY", "BUY", {"reason": sizing.WEIGHT_LIMIT, "weight_after": 0.0}))
    assert risk_rule_sale(rec("SELL", "SELL", None))  # a card without sizing facts: every held sale counts


@pytest.mark.django_db
def test_profiles_are_learned_from_stored_answers(signal_day):
    user = funded_investor("1000.00")
    other = funded_investor("1000.00")
    for i, (symbol, accepted) in enumerate([("AAPL", True)] * 6 + [("NVDA", False)] * 6):
        RecommendationFactory(
            user=user,
            symbol=symbol,
            trading_date=signal_day + timedelta(days=i) if i else signal_day,
            status=RecommendationStatus.ACCEPTED if accepted else RecommendationStatus.REJECTED,
            user_accepted=accepted,
            user_response_timestamp=T0 + timedelta(days=i),
            recommended_shares=Decimal("10"),
            actual_shares_traded=Decimal("4") if accepted else None,
        )

    assert preference_profiles_recompute() == 1
    assert preference_profiles_recompute(user_ids=[user.pk, other.pk]) == 2  # idempotent, and neutral for the silent

    row = UserPreferenceProfile.objects.get(user=user)
    profile = learned_profile.Profile.from_dict(row.profile)
    assert profile.symbol_rate("AAPL") > 0.7 > 0.3 > profile.symbol_rate("NVDA")
    assert row.size_scale == Decimal(str(round((6 * 0.4 + 3) / 9, 4)))
    assert UserPreferenceProfile.objects.get(user=other).profile == learned_profile.NEUTRAL.as_dict()


@pytest.mark.django_db
def test_with_the_flag_on_a_hold_asks_nothing_and_comes_after_the_decisions(signal_day, settings):
    """A HOLD is information, not a question: even for someone who used to "accept" HOLDs and decline buys, it has no
    P(accept) and comes after the BUY (the old ranking put a likelier HOLD first)."""
    _flag(settings, True)
    make_market(signal_day, drift={"AAPL": UP, "AMZN": DOWN, "GOOGL": DOWN, "META": DOWN, "NVDA": DOWN})
    investor = funded_investor("20000.00")
    _store_profile(
        investor,
        [("AAPL", "BUY", False, 30), ("AAPL", "HOLD", True, 30)],
        responses=60,
        accepted=30,
        acceptance_rate=0.5,
        action_rates={"HOLD": 0.9, "BUY": 0.1},
    )

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7, "NVDA": 0.5}), users=[investor])

    recs = {r.symbol: r for r in Recommendation.objects.filter(user=investor)}
    assert (recs["AAPL"].recommendation_type, recs["NVDA"].recommendation_type) == ("BUY", "HOLD")
    assert recs["AAPL"].priority == 1 and recs["NVDA"].priority > 1
    assert recs["NVDA"].acceptance_probability is None and recs["AAPL"].acceptance_probability is not None
    assert recs["NVDA"].model_features["personalisation"]["folded"] is False
