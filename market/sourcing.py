"""Which market the site shows: real prices when the provider can be reached, else the synthetic one.

``load_prices --source auto`` (what ``make run`` does on every start) calls :func:`market_load_auto`:

1. **Probe** the real provider (Yahoo Finance through yfinance) for a few recent sessions of SPY, in a
   background thread given :data:`PROBE_TIMEOUT` seconds. An offline machine fails here at once (a DNS
   or connection error) and a hanging network is abandoned when the time is up, so start-up never waits
   long.
2. If it answered, **fetch every symbol** in memory, within :data:`REAL_LOAD_DEADLINE` seconds in all.
   Only if every symbol arrives is anything written: then each symbol's real bars replace its synthetic
   ones (:func:`market.services.prices_upsert`), so the market is real as a whole, never half real.
3. Otherwise **fall back**: real prices already stored (from an earlier start that reached Yahoo) are
   kept as they are; with none, the seeded synthetic demo market is loaded, as before.

Every outcome is recorded (:func:`market.services.price_fetch_record`): the source and time of the
fetch, or the real provider's failure, which the banner on every page shows ("Yahoo Finance could not
be reached ..."). A symbol never mixes synthetic and real bars (see :mod:`market.services`).
The refresh that runs on schedule then follows the stored market (``MARKET_DATA_PROVIDER=auto``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

import pandas as pd
import requests
from django.utils import timezone

from market import calendar
from market.models import PriceSource
from market.providers import PriceProvider, ProviderError, get_provider
from market.providers.base import clip_dates
from market.selectors import stored_real_source
from market.services import LoadSummary, _check_symbols, price_fetch_record, prices_load, prices_upsert, provider_build
from market.symbols import ALL_SYMBOLS, BENCHMARK

logger = logging.getLogger(__name__)

#: The real provider ``auto`` tries first.
REAL_SOURCE = PriceSource.YFINANCE.value
#: Seconds the probe may take before the machine counts as offline.
PROBE_TIMEOUT = 8.0
#: Seconds fetching every symbol's history may take in all before the synthetic market is used instead.
REAL_LOAD_DEADLINE = 120.0
#: Seconds per HTTP request given to yfinance.
REQUEST_TIMEOUT = 10.0
#: Sessions the probe asks for.
PROBE_SESSIONS = 5

T = TypeVar("T")


class _Deadline(Exception):
    pass


def _within(seconds: float, work: Callable[[], T], *, what: str) -> T:
    """``work()`` run in a daemon thread, its result or exception; :class:`_Deadline` if it takes over ``seconds``.

    A daemon thread, not an executor: a call still hanging after the deadline must not keep the
    process alive (the thread is abandoned; it ends with its own request timeout).
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001  # handed to the caller's thread, which decides
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"market-{what}", daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        raise _Deadline(f"no answer within {seconds:g} s ({what})")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).strip()


@dataclass
class AutoLoad:
    """What :func:`market_load_auto` did. ``source``: the market the site now shows (``"demo"`` or the
    real provider's name). ``real_error``: why real prices were not loaded (empty when they were)."""

    source: str
    summaries: list[LoadSummary] = field(default_factory=list)
    real_error: str = ""
    kept_real: bool = False

    @property
    def synthetic(self) -> bool:
        return self.source == PriceSource.DEMO

    def describe(self) -> str:
        """One line for the person starting the site."""
        real = PriceSource(REAL_SOURCE).label
        if not self.synthetic and not self.real_error:
            return f"Prices: real daily bars from {PriceSource(self.source).label}."
        reason = self.real_error.replace(f"{real} could not be reached for ", "")
        if self.kept_real:
            return f"{real} could not be reached ({reason}); keeping the real prices fetched before."
        return f"{real} could not be reached ({reason}); using the synthetic demo market."


def provider_probe(provider: PriceProvider, *, timeout: float = PROBE_TIMEOUT, now: datetime | None = None) -> str:
    """Ask ``provider`` for SPY's last few sessions within ``timeout`` seconds; ``""`` if it answered, else why not."""
    end = calendar.latest_completed_session(now)
    start = calendar.add_trading_days(end, -(PROBE_SESSIONS - 1))

    def ask() -> pd.DataFrame:
        return provider.fetch(BENCHMARK, start, None)

    try:
        frame = _within(timeout, ask, what="probe")
    except (_Deadline, requests.RequestException, ProviderError) as exc:
        return _reason(exc)
    except Exception as exc:  # a library's own error (yfinance raises several kinds): the machine is not online for us
        logger.debug("probe of %s failed", provider.name, exc_info=True)
        return f"{type(exc).__name__}: {_reason(exc)}"
    if frame.empty:
        return f"no bars for {BENCHMARK} since {start}"
    return ""


def _fetch_all(
    provider: PriceProvider, symbols: Sequence[str], start: date | None, end: date, deadline: float
) -> dict[str, pd.DataFrame]:
    """Every symbol's bars, or an exception naming the first symbol that failed (nothing is written here)."""
    started = time.monotonic()
    frames: dict[str, pd.DataFrame] = {}
    for symbol in symbols:
        left = deadline - (time.monotonic() - started)

        def one(symbol: str = symbol) -> pd.DataFrame:
            return clip_dates(provider.fetch(symbol, start, end), start, end)

        try:
            frame = _within(left, one, what=f"fetch {symbol}")
        except Exception as exc:
            raise ProviderError(f"{symbol}: {_reason(exc)}") from exc
        if frame.empty:
            raise ProviderError(f"{symbol}: no bars between {start or 'the first session'} and {end}")
        frames[symbol] = frame
    return frames


def market_load_auto(
    *,
    symbols: Sequence[str] = ALL_SYMBOLS,
    start: date | None = None,
    end: date | None = None,
    real: PriceProvider | None = None,
    demo: PriceProvider | None = None,
    probe_timeout: float = PROBE_TIMEOUT,
    deadline: float = REAL_LOAD_DEADLINE,
    now: datetime | None = None,
    progress: Callable[[LoadSummary], None] | None = None,
) -> AutoLoad:
    """Load the real market if its provider answers, else keep stored real prices or load the synthetic one.

    See the module docstring. ``real`` defaults to Yahoo Finance (yfinance, :data:`REQUEST_TIMEOUT` per
    request) and ``demo`` to the seeded demo market (``MARKET_DATA_DEMO_SEED``); ``end`` is capped at the
    latest completed session, so an unfinished day's bar is never stored. Network work happens before
    and outside the writes.
    """
    wanted = _check_symbols(symbols)
    now = now or timezone.now()
    last_complete = calendar.latest_completed_session(now)
    end = min(end, last_complete) if end is not None else last_complete
    real = real or get_provider(REAL_SOURCE, timeout=REQUEST_TIMEOUT)

    error = provider_probe(real, timeout=probe_timeout, now=now)
    frames: dict[str, pd.DataFrame] = {}
    if not error:
        try:
            frames = _fetch_all(real, wanted, start, end, max(deadline - probe_timeout, probe_timeout))
        except ProviderError as exc:
            error = _reason(exc)

    if not error:
        summaries = []
        for symbol in wanted:
            summary = prices_upsert(symbol=symbol, bars=frames[symbol], source=real.name)
            summaries.append(summary)
            if progress is not None:
                progress(summary)
        latest = max((s.last_date for s in summaries if s.last_date is not None), default=None)
        price_fetch_record(source=real.name, now=now, latest_session=latest)
        logger.info("prices: real daily bars from %s up to %s", real.name, latest)
        return AutoLoad(source=real.name, summaries=summaries)

    logger.warning("prices: %s could not be reached (%s); not loading real prices", real.name, error)
    price_fetch_record(source=real.name, now=now, failure=error)
    kept = stored_real_source()
    if kept is not None:
        return AutoLoad(source=kept, real_error=error, kept_real=True)
    demo = demo or provider_build(source=PriceSource.DEMO.value, today=now)
    summaries = prices_load(provider=demo, symbols=wanted, start=start, end=end, progress=progress, now=now)
    return AutoLoad(source=demo.name, summaries=summaries, real_error=error)
