"""A seeded synthetic market: realistic-looking daily bars with no network and no licence.

Model (all returns are daily log returns, on NYSE sessions):

- a market factor ``m`` with GARCH(1,1) variance (volatility clusters) and rare market-wide jumps;
  SPY *is* the factor;
- each stock ``i``: ``r_i = alpha_i + beta_i * r_m + e_i + J_i`` with its own GARCH(1,1)
  idiosyncratic noise ``e_i`` and rare idiosyncratic jumps ``J_i`` (think earnings days), so
  stocks are positively correlated through the factor;
- drift and volatility per symbol in realistic ranges (annualised volatility ~16 % for SPY,
  ~25-50 % for the stocks); opens gap from the previous close, highs and lows bracket open and
  close, and volume rises on large moves.

The whole universe is generated jointly from a fixed origin date (2010-01-04) with one random
stream per ingredient, each drawn in date order. Therefore a symbol's bar on a given date depends
only on the seed and that date: not on which symbols are asked for, on ``start``/``end``, or on
"today" (a later "today" appends bars, it never changes earlier ones). The default window is the
last three years up to the latest completed session. Bars are marked ``source="demo"`` in the
database, so they are never mistaken for real prices.
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

_MARKET_DRIFT = 0.09  # expected arithmetic return of the factor per year
_MARKET_VOL = 0.16  # unconditional annualised volatility of the factor (before jumps)
_MARKET_JUMPS_PER_YEAR = 1.5
_MARKET_JUMP_MEAN, _MARKET_JUMP_SIZE = -0.01, 0.025
_GARCH_ALPHA, _GARCH_BETA = 0.08, 0.90  # persistence 0.98: realistic clustering
_IDIO_ALPHA, _IDIO_BETA = 0.09, 0.89
_STREAMS = ("market", "idio", "market_jump_u", "market_jump_z", "jump_u", "jump_z", "gap", "high", "low", "volume")


@dataclass(frozen=True)
class _Path:
    dates: tuple[date, ...]
    bars: dict[str, pd.DataFrame]


def _garch_paths(z: np.ndarray, annual_vol: np.ndarray, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) innovations ``sqrt(h_t) * z_t`` and their daily variances ``h_t``, one column per series.

    ``h`` starts at, and reverts to, the unconditional variance ``annual_vol**2 / 252``.
    """
    target = (annual_vol**2) / TRADING_DAYS
    omega = target * (1.0 - alpha - beta)
    eps_out = np.empty_like(z)
    var_out = np.empty_like(z)
    h = np.broadcast_to(target, z.shape[1:]).astype(float)
    for t in range(z.shape[0]):
        eps = np.sqrt(h) * z[t]
        eps_out[t] = eps
        var_out[t] = h
        h = omega + alpha * eps * eps + beta * h
    return eps_out, var_out


@functools.lru_cache(maxsize=8)
def _generate(seed: int, last: date) -> _Path:
    """The full universe from :data:`ORIGIN` to ``last``; prefix-stable in ``last`` (see module doc)."""
    dates = tuple(calendar.sessions(ORIGIN, last))
    n, k = len(dates), len(UNIVERSE)
    seeds = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    streams = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    # Each ingredient is one array drawn in date order from its own stream: row t never depends on n.
    z_market = streams["market"].standard_normal((n, 1))
    z_idio = streams["idio"].standard_normal((n, k))
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

    market_eps, market_var = _garch_paths(z_market, np.array([_MARKET_VOL]), _GARCH_ALPHA, _GARCH_BETA)
    market_jumps = np.where(
        market_jump_u < _MARKET_JUMPS_PER_YEAR / TRADING_DAYS, _MARKET_JUMP_MEAN + _MARKET_JUMP_SIZE * market_jump_z, 0.0
    )
    market_mu = _MARKET_DRIFT / TRADING_DAYS - 0.5 * _MARKET_VOL**2 / TRADING_DAYS
    r_market = market_mu + market_eps + market_jumps  # (n, 1)

    idio_eps, idio_var = _garch_paths(z_idio, idio_vol, _IDIO_ALPHA, _IDIO_BETA)
    jump_rate = np.array([s.jumps_per_year for s in UNIVERSE]) / TRADING_DAYS
    jump_size = np.array([s.jump_size for s in UNIVERSE])
    jumps = np.where(jump_u < jump_rate, jump_size * jump_z, 0.0)
    # Chosen so each stock's expected arithmetic return is about its ``drift``.
    alpha = (drift - beta * _MARKET_DRIFT) / TRADING_DAYS - 0.5 * idio_vol**2 / TRADING_DAYS
    returns = alpha + beta * r_market + idio_eps + jumps  # (n, k); SPY's column is the factor itself

    start_price = np.array([s.start_price for s in UNIVERSE])
    close = start_price * np.exp(np.cumsum(returns, axis=0))
    previous_close = np.vstack([start_price, close[:-1]])
    # The day's conditional volatility sets the size of the opening gap and of the intraday range.
    day_vol = np.sqrt(beta**2 * market_var + idio_var)
    open_ = previous_close * np.exp(0.3 * day_vol * gap_z)
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * np.exp(0.5 * day_vol * high_z)
    low = bottom * np.exp(-0.5 * day_vol * low_z)
    surprise = np.abs(returns) / day_vol
    base_volume = np.array([s.base_volume for s in UNIVERSE])
    volume = np.maximum(1, np.rint(base_volume * np.exp(0.25 * volume_z + 0.35 * (surprise - 0.8)))).astype(np.int64)

    date_column = np.array(dates, dtype=object)
    bars = {}
    for j, spec in enumerate(UNIVERSE):
        bars[spec.ticker] = pd.DataFrame(
            {
                "date": date_column,
                "open": open_[:, j],
                "high": high[:, j],
                "low": low[:, j],
                "close": close[:, j],
                "adj_close": close[:, j],
                "volume": volume[:, j],
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
