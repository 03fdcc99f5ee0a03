"""A seeded synthetic market: daily bars with no network and no licence, built to behave like real ones.

It is a demo, never evidence about real markets: every number it produces follows from the
parameters in :class:`StylisedFacts` and a random seed.

The model (daily log returns on NYSE sessions) has two kinds of *component*: a market factor
(SPY *is* the factor) and one idiosyncratic component per stock. Each stock's return is
``r_i = beta_i * m + x_i``, so stocks move together through the factor. Every component ``x``
(the factor included) follows the same recursion, with its own parameters::

    x_t = mu + mom_t - rev_t + eps_t + J_t
    mom_t = kappa_mom / L_mom * sum(x_{t-k} - mu, k = 1..L_mom)                    (time-series momentum)
    rev_t = kappa_rev / L_rev * sum(x_{t-k} - mu, k = L_mom+1..L_mom+L_rev)        (its long-run reversal)
    eps_t = sqrt(h_t) * z_t,  z_t ~ Student-t(nu), scaled to unit variance        (fat tails)
    h_{t+1} = omega + (alpha + gamma * [eps_t < 0]) * eps_t**2 + beta * h_t           (GJR-GARCH: clustering + leverage)

``J_t`` are rare jumps (market-wide crashes with a negative mean, and idiosyncratic "earnings
day" jumps), after Merton (1976). The stylised facts it carries, and where they are documented:

- **Fat tails** (excess kurtosis of daily returns, tail index ~3-5): Mandelbrot (1963); Cont (2001),
  "Empirical properties of asset returns: stylized facts and statistical issues", *Quantitative
  Finance* 1, facts 2 and 3. Innovations are Student-t with ``nu`` = 5 degrees of freedom
  (Bollerslev 1987, "A conditionally heteroskedastic time series model for speculative prices
  and rates of return").
- **Volatility clustering** (``|r_t|`` positively autocorrelated for weeks to months): Mandelbrot
  (1963); Engle (1982); Bollerslev (1986); Cont (2001), facts 6 and 7.
- **Leverage effect** (falls raise future volatility more than rises: ``corr(r_t, r_{t+1}**2) < 0``):
  Black (1976); Christie (1982); Glosten, Jagannathan & Runkle (1993), whose GJR-GARCH is the
  variance recursion above, with the asymmetric ``gamma`` S&P 500 fits typically give and
  persistence ``alpha + gamma/2 + beta`` just below 1.
- **Time-series momentum**: an asset's own past 12-month return predicts its next month's with a
  positive sign (Moskowitz, Ooi & Pedersen 2012, "Time series momentum", *JFE* 104); the effect
  partly **reverses** over the following years (ibid., section 3; De Bondt & Thaler 1985;
  Poterba & Summers 1988, "Mean reversion in stock prices": negative autocorrelation at 3-5 years).
  Here the drift leans into the past year's excess return (``kappa_mom``) and against years 2-5
  (``kappa_rev``); with ``kappa_mom == kappa_rev`` the long-run variance and mean are unchanged.
- **Co-movement through a market factor**: single-index model (Sharpe 1963); stocks' correlations
  with the index of ~0.4-0.7.

The strengths are modest, of the size published (a 12-month TS-momentum signal explains ~1-2 % of
next month's variance), so a model fitted on this market can find an edge, but a small one.
The innovations are capped at ``innovation_cap`` standard deviations and the conditional
volatility at ``max_vol_multiple`` times its long-run level, so no day moves more than these
stocks ever have (the refresh's sanity check rejects a 50 % move).

The whole universe is generated jointly from a fixed origin date (2010-01-04) with one random
stream per ingredient, each drawn in date order, and the recursion above only ever reads the
past. Therefore a symbol's bar on a given date depends only on the seed and that date: not on
which symbols are asked for, on ``start``/``end``, or on "today" (a later "today" appends bars,
it never changes earlier ones). The default window is the last three years up to the latest
completed session. Bars are marked ``source="demo"`` in the database, so they are never mistaken
for real prices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from market import calendar
from market.providers.base import NoDataError, clean_bars, clip_dates, empty_bars

ORIGIN = date(2010, 1, 4)
TRADING_DAYS = 252
DEFAULT_HISTORY_YEARS = 3


@dataclass(frozen=True)
class DemoSymbol:
    """Annualised parameters of one synthetic symbol."""

    ticker: str
    start_price: float
    drift: float  # expected arithmetic return per year
    beta: float  # loading on the market factor
    idio_vol: float  # idiosyncratic volatility per year (before jumps)
    jumps_per_year: float
    jump_size: float  # standard deviation of a jump's log return
    base_volume: float  # shares on a quiet day


#: SPY first: it is the market factor.
UNIVERSE: tuple[DemoSymbol, ...] = (
    DemoSymbol("SPY", 110.0, 0.09, 1.00, 0.00, 0.0, 0.0, 90e6),
    DemoSymbol("AAPL", 30.0, 0.18, 1.15, 0.20, 4.0, 0.045, 80e6),
    DemoSymbol("AMZN", 35.0, 0.20, 1.20, 0.24, 4.0, 0.060, 60e6),
    DemoSymbol("GOOGL", 25.0, 0.15, 1.05, 0.20, 4.0, 0.050, 35e6),
    DemoSymbol("META", 40.0, 0.17, 1.25, 0.30, 4.0, 0.080, 25e6),
    DemoSymbol("NVDA", 12.0, 0.30, 1.60, 0.36, 4.0, 0.070, 45e6),
)
TICKERS: tuple[str, ...] = tuple(s.ticker for s in UNIVERSE)


@dataclass(frozen=True)
class StylisedFacts:
    """Every parameter of the synthetic market's dynamics, in one place (see the module docstring for sources).

    Units: volatilities are annualised; GARCH coefficients are per session; lookbacks are sessions.
    """

    # Market factor.
    market_drift: float = 0.09  # expected arithmetic return per year
    market_vol: float = 0.16  # long-run volatility per year, before jumps
    market_jumps_per_year: float = 1.5
    market_jump_mean: float = -0.01  # crashes: market-wide jumps are negative on average
    market_jump_size: float = 0.025
    # GJR-GARCH(1,1) of the factor: typical S&P 500 estimates (ARCH term small, the asymmetry large).
    market_alpha: float = 0.01
    market_gamma: float = 0.16
    market_beta: float = 0.90
    # GJR-GARCH(1,1) of the idiosyncratic components: less asymmetric, as single-stock fits are.
    idio_alpha: float = 0.04
    idio_gamma: float = 0.08
    idio_beta: float = 0.90
    # Fat tails: Student-t innovations scaled to unit variance, capped in standard deviations.
    tail_dof: float = 5.0
    innovation_cap: float = 6.0
    # Conditional volatility never exceeds this multiple of its long-run level (2008 and 2020 reached ~4-5x).
    max_vol_multiple: float = 4.0
    # Time-series momentum over the past year and its reversal over years 2-5 (of every component).
    momentum_lookback: int = 252
    momentum_strength: float = 0.25
    reversal_lookback: int = 1008
    reversal_strength: float = 0.25
    # A last safety net: no session's log return beyond this (|r| <= 0.25: -22 % .. +28 %).
    daily_move_cap: float = 0.25

    def __post_init__(self) -> None:
        for name in ("market", "idio"):
            persistence = getattr(self, f"{name}_alpha") + getattr(self, f"{name}_gamma") / 2 + getattr(self, f"{name}_beta")
            if not 0 < persistence < 1:
                raise ValueError(f"{name} GARCH persistence {persistence:.3f} must be in (0, 1)")
        if self.tail_dof <= 4:
            raise ValueError("tail_dof must exceed 4 so the innovations' kurtosis is finite")
        if abs(self.momentum_strength) + abs(self.reversal_strength) >= 1:
            raise ValueError("momentum_strength + reversal_strength must stay below 1 (a stable recursion)")


#: The parameters the demo market uses.
FACTS = StylisedFacts()

_STREAMS = ("market", "idio", "market_jump_u", "market_jump_z", "jump_u", "jump_z", "gap", "high", "low", "volume")


@dataclass(frozen=True)
class Simulation:
    """``n`` sessions of the universe (columns in :data:`UNIVERSE` order), all arrays ``(n, k)``.

    ``returns`` are daily log close-to-close returns; ``components`` are the recursion's ``x``
    (column 0 the market factor, column ``j`` the idiosyncratic part of stock ``j``; SPY's own
    column is zero); ``variances`` the GARCH ``h_t`` of each component and ``innovations`` its
    standardised ``z_t`` (so ``eps_t = sqrt(h_t) * z_t``); ``day_vol`` each symbol's conditional
    volatility that session. Prices start at each symbol's ``start_price``.
    """

    returns: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    innovations: np.ndarray
    day_vol: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def _component_recursion(
    z: np.ndarray,
    jumps: np.ndarray,
    mu: np.ndarray,
    annual_vol: np.ndarray,
    alpha: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    facts: StylisedFacts,
) -> tuple[np.ndarray, np.ndarray]:
    """The components ``x`` and their variances ``h``, shape ``(n, c)``; row ``t`` reads rows ``< t`` only.

    ``h`` starts at, and reverts to, the long-run variance ``annual_vol**2 / 252``.
    """
    n, c = z.shape
    target = annual_vol**2 / TRADING_DAYS
    omega = target * (1.0 - alpha - gamma / 2 - beta)
    ceiling = target * facts.max_vol_multiple**2
    lm, lr = facts.momentum_lookback, facts.reversal_lookback
    k_mom, k_rev = facts.momentum_strength / lm, facts.reversal_strength / lr
    x = np.empty((n, c))
    h_out = np.empty((n, c))
    # cum[t] = sum of (x - mu) over rows < t, so window sums are two lookups.
    cum = np.zeros((n + 1, c))
    h = target.astype(float).copy()
    for t in range(n):
        m0, r0 = max(t - lm, 0), max(t - lm - lr, 0)
        drift = mu + k_mom * (cum[t] - cum[m0]) - k_rev * (cum[m0] - cum[r0])
        eps = np.sqrt(h) * z[t]
        h_out[t] = h
        x[t] = drift + eps + jumps[t]
        cum[t + 1] = cum[t] + (x[t] - mu)
        h = np.minimum(omega + (alpha + gamma * (eps < 0)) * eps * eps + beta * h, ceiling)
    return x, h_out


def simulate(seed: int, n: int, facts: StylisedFacts = FACTS) -> Simulation:
    """``n`` sessions of the synthetic universe from ``seed``; prefix-stable: ``simulate(s, n)`` is the first
    ``n`` rows of ``simulate(s, n + m)``. Pure numpy, no calendar (dates are attached by the provider)."""
    k = len(UNIVERSE)
    seeds = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    streams = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    # Each ingredient is one array drawn in date order from its own stream: row t never depends on n.
    scale = np.sqrt((facts.tail_dof - 2.0) / facts.tail_dof)  # a t(nu) draw times this has unit variance
    z_market = streams["market"].standard_t(facts.tail_dof, (n, 1)) * scale
    z_idio = streams["idio"].standard_t(facts.tail_dof, (n, k - 1)) * scale
    market_jump_u = streams["market_jump_u"].random((n, 1))
    market_jump_z = streams["market_jump_z"].standard_normal((n, 1))
    jump_u = streams["jump_u"].random((n, k))
    jump_z = streams["jump_z"].standard_normal((n, k))
    gap_z = streams["gap"].standard_normal((n, k))
    high_z = np.abs(streams["high"].standard_normal((n, k)))
    low_z = np.abs(streams["low"].standard_normal((n, k)))
    volume_z = streams["volume"].standard_normal((n, k))

    beta = np.array([s.beta for s in UNIVERSE])
    idio_vol = np.array([s.idio_vol for s in UNIVERSE])
    drift = np.array([s.drift for s in UNIVERSE])

    market_jumps = np.where(
        market_jump_u < facts.market_jumps_per_year / TRADING_DAYS,
        facts.market_jump_mean + facts.market_jump_size * market_jump_z,
        0.0,
    )
    jump_rate = np.array([s.jumps_per_year for s in UNIVERSE]) / TRADING_DAYS
    jump_size = np.array([s.jump_size for s in UNIVERSE])
    idio_jumps = np.where(jump_u < jump_rate, jump_size * jump_z, 0.0)[:, 1:]

    # Column 0: the market factor; columns 1..k-1: each stock's idiosyncratic component.
    market_mu = facts.market_drift / TRADING_DAYS - 0.5 * facts.market_vol**2 / TRADING_DAYS
    # Chosen so each stock's expected arithmetic return is about its ``drift``.
    idio_mu = (drift - beta * facts.market_drift) / TRADING_DAYS - 0.5 * idio_vol**2 / TRADING_DAYS
    c = k  # one market column + (k - 1) idiosyncratic ones
    z = np.clip(np.hstack([z_market, z_idio]), -facts.innovation_cap, facts.innovation_cap)
    components, variances = _component_recursion(
        z,
        np.hstack([market_jumps, idio_jumps]),
        mu=np.concatenate([[market_mu], idio_mu[1:]]),
        annual_vol=np.concatenate([[facts.market_vol], idio_vol[1:]]),
        alpha=np.array([facts.market_alpha] + [facts.idio_alpha] * (c - 1)),
        gamma=np.array([facts.market_gamma] + [facts.idio_gamma] * (c - 1)),
        beta=np.array([facts.market_beta] + [facts.idio_beta] * (c - 1)),
        facts=facts,
    )
    idio = np.hstack([np.zeros((n, 1)), components[:, 1:]])  # SPY has no idiosyncratic part
    idio_var = np.hstack([np.zeros((n, 1)), variances[:, 1:]])
    returns = np.clip(beta * components[:, :1] + idio, -facts.daily_move_cap, facts.daily_move_cap)

    start_price = np.array([s.start_price for s in UNIVERSE])
    close = start_price * np.exp(np.cumsum(returns, axis=0))
    previous_close = np.vstack([start_price, close[:-1]])
    # The day's conditional volatility sets the size of the opening gap and of the intraday range.
    day_vol = np.sqrt(beta**2 * variances[:, :1] + idio_var)
    open_ = previous_close * np.exp(0.3 * day_vol * gap_z)
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * np.exp(0.5 * day_vol * high_z)
    low = bottom * np.exp(-0.5 * day_vol * low_z)
    surprise = np.abs(returns) / day_vol
    base_volume = np.array([s.base_volume for s in UNIVERSE])
    volume = np.maximum(1, np.rint(base_volume * np.exp(0.25 * volume_z + 0.35 * (surprise - 0.8)))).astype(np.int64)
    return Simulation(
        returns=returns,
        components=components,
        variances=variances,
        innovations=z,
        day_vol=day_vol,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
    )


@dataclass(frozen=True)
class _Path:
    dates: tuple[date, ...]
    bars: dict[str, pd.DataFrame]


@functools.lru_cache(maxsize=8)
def _generate(seed: int, last: date) -> _Path:
    """The full universe from :data:`ORIGIN` to ``last``; prefix-stable in ``last`` (see module doc)."""
    dates = tuple(calendar.sessions(ORIGIN, last))
    sim = simulate(seed, len(dates))
    date_column = np.array(dates, dtype=object)
    bars = {}
    for j, spec in enumerate(UNIVERSE):
        bars[spec.ticker] = pd.DataFrame(
            {
                "date": date_column,
                "open": sim.open[:, j],
                "high": sim.high[:, j],
                "low": sim.low[:, j],
                "close": sim.close[:, j],
                "adj_close": sim.close[:, j],
                "volume": sim.volume[:, j],
            }
        )
    return _Path(dates=dates, bars=bars)


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


class DemoMarketProvider:
    """The synthetic market. ``today`` pins the clock (a ``datetime``, or a ``date`` meaning the end of that day)."""

    name = "demo"
    symbols = TICKERS

    def __init__(
        self, *, seed: int = 7, today: date | datetime | None = None, history_years: int = DEFAULT_HISTORY_YEARS
    ) -> None:
        self.seed = int(seed)
        self.history_years = history_years
        if today is None or isinstance(today, datetime):
            self.last_session = calendar.latest_completed_session(today)
        else:
            self.last_session = today if calendar.is_trading_day(today) else calendar.previous_trading_day(today)

    def default_start(self) -> date:
        return max(ORIGIN, _years_before(self.last_session, self.history_years))

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        if symbol not in TICKERS:
            raise NoDataError(f"the demo market has no symbol {symbol} (it has {', '.join(TICKERS)})")
        start = start if start is not None else self.default_start()
        end = min(end, self.last_session) if end is not None else self.last_session
        if start > end or end < ORIGIN:
            return empty_bars()
        frame = clip_dates(_generate(self.seed, self.last_session).bars[symbol], start, end)
        return clean_bars(frame, source=f"demo {symbol}")
