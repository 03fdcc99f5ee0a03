"""The synthetic market carries the documented stylised facts of real daily returns (see market.providers.demo).

Statistics are measured on one long seeded sample (80,000 sessions, about 317 years), long enough
that each effect is far outside sampling noise for every seed tried (0-9); shuffled controls show
the same statistics at zero when the effect is absent.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from market.providers import get_provider
from market.providers.demo import FACTS, TICKERS, StylisedFacts, _component_recursion, simulate
from market.providers.sanity import MAX_DAILY_MOVE

LONG = 80_000
MONTH, YEAR = 21, 252


@pytest.fixture(scope="module")
def long_sample():
    return simulate(7, LONG)


@pytest.fixture(scope="module")
def shuffled(long_sample):
    """The same returns in a random order: same distribution, no dynamics."""
    return np.random.default_rng(0).permutation(long_sample.returns, axis=0)


def tsmom_products(returns: np.ndarray) -> np.ndarray:
    """sign(past 12-month excess return) x next month's excess return, on non-overlapping months, per symbol.

    Excess over the sample mean, as Moskowitz, Ooi & Pedersen use excess returns: with a positive drift,
    raw past and next returns are both mostly positive, and their product would be positive without momentum.
    """
    returns = returns - returns.mean(axis=0)
    months = len(returns) // MONTH
    monthly = returns[: months * MONTH].reshape(months, MONTH, -1).sum(axis=1)
    past = np.array([monthly[m - 12 : m].sum(axis=0) for m in range(12, months)])
    return np.sign(past) * monthly[12:]


def abs_autocorrelations(returns: np.ndarray, lags: range) -> np.ndarray:
    moves = np.abs(returns)
    return np.array([[np.corrcoef(moves[:-lag, j], moves[lag:, j])[0, 1] for lag in lags] for j in range(returns.shape[1])])


def leverage(returns: np.ndarray) -> np.ndarray:
    """corr(r_t, r_{t+1}^2) per symbol: negative when falls raise the next day's variance."""
    return np.array([np.corrcoef(returns[:-1, j], returns[1:, j] ** 2)[0, 1] for j in range(returns.shape[1])])


def test_fat_tails_daily_returns_and_innovations_have_excess_kurtosis(long_sample):
    kurtosis = stats.kurtosis(long_sample.returns, axis=0, fisher=False)
    assert (kurtosis > 5).all(), dict(zip(TICKERS, kurtosis.round(1), strict=True))
    # Not only GARCH's mixing: the innovations themselves are Student-t (a normal's kurtosis is 3).
    innovations = stats.kurtosis(long_sample.innovations, axis=0, fisher=False)
    assert (innovations > 4.5).all(), innovations.round(2)


def test_volatility_clusters_at_every_lag_from_1_to_20(long_sample, shuffled):
    clustered = abs_autocorrelations(long_sample.returns, range(1, 21))
    assert (clustered > 0.03).all(), clustered.min(axis=1).round(3)
    assert (np.abs(abs_autocorrelations(shuffled, range(1, 21))) < 0.02).all()


def test_leverage_effect_a_fall_raises_the_next_days_variance(long_sample, shuffled):
    assert (leverage(long_sample.returns) < 0).all(), leverage(long_sample.returns).round(3)
    # The conditional variance itself answers a fall more than a rise of the same size.
    eps = np.sqrt(long_sample.variances[:-1, 0]) * long_sample.innovations[:-1, 0]
    next_h = long_sample.variances[1:, 0]
    big = np.abs(eps) > np.quantile(np.abs(eps), 0.9)
    assert next_h[big & (eps < 0)].mean() > 1.2 * next_h[big & (eps > 0)].mean()
    assert np.abs(leverage(shuffled)).max() < 0.02


def test_twelve_month_time_series_momentum_predicts_next_months_sign(long_sample, shuffled):
    products = tsmom_products(long_sample.returns)
    assert (products.mean(axis=0) > 0).all(), dict(zip(TICKERS, products.mean(axis=0).round(4), strict=True))
    assert stats.ttest_1samp(products.mean(axis=1), 0).statistic > 4
    assert abs(stats.ttest_1samp(tsmom_products(shuffled).mean(axis=1), 0).statistic) < 3


def test_momentum_reverses_over_years_two_to_five(long_sample):
    years = LONG // YEAR
    annual = long_sample.returns[: years * YEAR].reshape(years, YEAR, -1).sum(axis=1)
    years_2_to_5 = np.array([annual[y - 5 : y - 1].sum(axis=0) for y in range(5, years)])
    assert np.corrcoef(years_2_to_5.ravel(), annual[5:].ravel())[0, 1] < -0.02


def test_a_shock_is_extended_for_a_year_then_partly_given_back():
    """The drift's impulse response, without noise: momentum builds on a shock, the reversal takes some back."""
    n, shock, start = 2500, 0.10, 10
    jumps = np.zeros((n, 1))
    jumps[start] = shock
    one = np.ones(1)
    x, _ = _component_recursion(
        np.zeros((n, 1)), jumps, mu=0 * one, annual_vol=0.2 * one, alpha=0.05 * one, gamma=0 * one, beta=0.9 * one, facts=FACTS
    )
    path = np.cumsum(x[:, 0])
    after_a_year = path[start + YEAR]
    peak = path.max()
    assert after_a_year > 1.15 * shock  # time-series momentum: the move continues
    assert path[-1] < peak - 0.2 * (peak - shock)  # ... and partly reverses in years 2-5
    assert path[start - 1] == 0  # nothing before the shock moves: the recursion reads the past only


def test_stocks_move_together_through_the_market_factor(long_sample):
    correlations = np.corrcoef(long_sample.returns.T)
    assert (correlations[0, 1:] > 0.35).all()  # each stock with SPY
    assert (correlations > 0.15).all()


def test_no_session_moves_beyond_what_the_refresh_would_believe(long_sample):
    assert np.abs(np.expm1(long_sample.returns)).max() < MAX_DAILY_MOVE
    assert np.abs(long_sample.returns).max() <= FACTS.daily_move_cap


def test_the_same_seed_gives_the_same_market_and_another_seed_another():
    first, again, other = simulate(3, 2000), simulate(3, 2000), simulate(4, 2000)
    np.testing.assert_array_equal(first.close, again.close)
    np.testing.assert_array_equal(first.volume, again.volume)
    assert not np.allclose(first.returns, other.returns)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 1400), more=st.integers(1, 400))
def test_no_look_ahead_a_longer_sample_starts_with_the_shorter_one(seed, n, more):
    """Extending the sample never changes earlier sessions (the windows reach back 1,260 sessions)."""
    short, longer = simulate(seed, n), simulate(seed, n + more)
    for name in ("returns", "variances", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(longer, name)[:n], getattr(short, name), err_msg=name)


def test_the_provider_serves_the_simulation_on_nyse_sessions():
    provider = get_provider("demo", seed=7, today=date(2024, 6, 14), history_years=20)
    frame = provider.fetch("NVDA")
    sim = simulate(7, len(frame))
    np.testing.assert_allclose(frame["close"].to_numpy(), sim.close[:, TICKERS.index("NVDA")])
    returns = np.log(frame["close"]).diff().dropna()
    assert stats.kurtosis(returns, fisher=False) > 3  # the window a user sees is fat-tailed too


def test_parameters_that_would_break_the_model_are_refused():
    with pytest.raises(ValueError, match="persistence"):
        StylisedFacts(market_alpha=0.1, market_gamma=0.2, market_beta=0.9)
    with pytest.raises(ValueError, match="tail_dof"):
        StylisedFacts(tail_dof=3.0)
    with pytest.raises(ValueError, match="stable recursion"):
        StylisedFacts(momentum_strength=0.6, reversal_strength=0.5)


def test_later_bars_of_the_dated_market_never_rewrite_earlier_ones():
    earlier = get_provider("demo", seed=11, today=date(2020, 3, 13)).fetch("SPY", date(2016, 1, 4))
    later = get_provider("demo", seed=11, today=date(2024, 6, 14)).fetch("SPY", date(2016, 1, 4))
    pd.testing.assert_frame_equal(later.iloc[: len(earlier)].reset_index(drop=True), earlier)
