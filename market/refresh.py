"""The price refresh: fetch the recent sessions of every symbol, keep only believable data, tell operators.

For each symbol the provider's answer is classified before anything is written:

==========================  =========================  ==========================================
what happened               incident kind              retried
==========================  =========================  ==========================================
timeout / connection error  ``timeout``/``connection``  yes, with exponential backoff and jitter
HTTP 5xx / 429 / HTML page  ``http_error``/...          yes
rate-limit note (HTTP 200)  ``rate_limited``            yes (six quick calls can trip a per-minute limit)
API error payload           ``bad_response``            no
impossible bar values       ``invalid_bar``             no (``clean_bars``: high<low, price<=0, ...)
absurd jump, future date    ``implausible``/...         no (:mod:`market.providers.sanity`)
nothing new / repeated bar  ``stale``                   no (the next scheduled run asks again)
call budget spent           ``budget_exhausted``        no (skipped with a log line)
==========================  =========================  ==========================================

A failing symbol writes nothing (the last good bars stay); the others load. Each failure is logged
and recorded as a :class:`~market.models.ProviderIncident`; a success resolves the symbol's open
incidents. Operators are mailed through :func:`market.incidents.incidents_alert`. Symbols whose
latest price changed are pushed to browsers as ``price.update``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from market import calendar
from market.budget import call_reserve, daily_call_budget
from market.incidents import TRANSIENT_KINDS, incident_record, incidents_alert, incidents_resolve
from market.live import changed_prices, price_updates_push
from market.models import IncidentKind, PriceBar
from market.providers import PriceProvider, ProviderError
from market.providers.base import (
    SPLIT_DATES_ATTR,
    NoDataError,
    PriceDataError,
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
    clip_dates,
)
from market.providers.sanity import ImplausibleDataError, StaleDataError, StoredBar, check_refresh_bars
from market.refresh_types import REFRESH_SESSIONS as REFRESH_SESSIONS  # re-exported: the task imports refresh_types
from market.refresh_types import ProviderTemporarilyFailing as ProviderTemporarilyFailing
from market.selectors import latest_prices_uncached
from market.services import LoadSummary, _check_symbols, price_fetch_record, prices_upsert, provider_build
from market.symbols import ALL_SYMBOLS
from quantai.errors import Conflict

logger = logging.getLogger(__name__)

#: How long after a session's close a provider may take to publish its bar before it counts as stale.
PUBLISH_GRACE = timedelta(hours=4)
#: Credentials in URLs that ``requests`` quotes in its error messages (``...?apikey=SECRET&...``).
_SECRET_PARAM = re.compile(r"((?:api_?key|apikey|token|access_token|key)=)[^&\s'\"]+", re.IGNORECASE)


def scrub_secrets(text: str) -> str:
    """``text`` with URL credentials replaced: incident messages go to the database, logs and operators' mail."""
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


def classify_failure(exc: BaseException) -> str:
    """The :class:`~market.models.IncidentKind` of a failed fetch (unknown exceptions are not classified: they propagate)."""
    if isinstance(exc, requests.Timeout):
        return IncidentKind.TIMEOUT
    if isinstance(exc, requests.RequestException):
        return IncidentKind.CONNECTION
    if isinstance(exc, ProviderUnavailable):
        return IncidentKind(exc.kind)
    if isinstance(exc, ProviderResponseError):
        return IncidentKind.RATE_LIMITED if exc.rate_limited else IncidentKind.BAD_RESPONSE
    if isinstance(exc, ProviderConfigError):
        return IncidentKind.CONFIG
    if isinstance(exc, NoDataError):
        return IncidentKind.NO_DATA
    if isinstance(exc, PriceDataError):
        return IncidentKind.INVALID_BAR
    if isinstance(exc, ImplausibleDataError):
        return IncidentKind(exc.kind)
    if isinstance(exc, StaleDataError):
        return IncidentKind.STALE
    return IncidentKind.BAD_RESPONSE


@dataclass(frozen=True)
class SymbolOutcome:
    """What the refresh did with one symbol: ``stored`` (``summary`` set), ``failed`` (``kind`` set) or ``skipped``."""

    symbol: str
    status: str
    summary: LoadSummary | None = None
    kind: str | None = None
    message: str = ""

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT_KINDS

    def describe(self) -> str:
        """One line for people: ``AAPL   stored  created 1  updated 0  unchanged 9`` or ``AAPL   FAILED (timeout) ...``."""
        if self.status == "stored" and self.summary is not None:
            s = self.summary
            return f"{self.symbol:<5}  stored   created {s.created}  updated {s.updated}  unchanged {s.unchanged}"
        if self.status == "failed":
            return f"{self.symbol:<5}  FAILED ({self.kind}{', will retry' if self.transient else ''})  {self.message}"
        return f"{self.symbol:<5}  skipped  {self.message}"


@dataclass
class RefreshReport:
    source: str
    start: date
    end: date
    outcomes: list[SymbolOutcome] = field(default_factory=list)
    pushed: int = 0
    alerted: int = 0

    def _total(self, name: str) -> int:
        return sum(getattr(o.summary, name) for o in self.outcomes if o.summary is not None)

    @property
    def transient_failures(self) -> dict[str, str]:
        return {o.symbol: o.message for o in self.outcomes if o.status == "failed" and o.transient}

    def as_dict(self) -> dict[str, Any]:
        """The task's JSON result."""
        return {
            "source": self.source,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "created": self._total("created"),
            "updated": self._total("updated"),
            "unchanged": self._total("unchanged"),
            "failed": {o.symbol: o.message for o in self.outcomes if o.status == "failed"},
            "failure_kinds": {o.symbol: o.kind for o in self.outcomes if o.status == "failed"},
            "skipped": {o.symbol: o.message for o in self.outcomes if o.status == "skipped"},
            "pushed": self.pushed,
            "alerted": self.alerted,
        }


def _stored_context(symbols: Sequence[str], since: date) -> dict[str, list[StoredBar]]:
    """Each symbol's stored bars from ``since`` on, ascending: one query."""
    context: dict[str, list[StoredBar]] = defaultdict(list)
    rows = (
        PriceBar.objects.filter(symbol__in=list(symbols), date__gte=since)
        .order_by("symbol", "date")
        .values_list("symbol", "date", "open", "high", "low", "close")
    )
    for symbol, day, open_, high, low, close in rows:
        context[symbol].append(StoredBar(day, float(close), (float(open_), float(high), float(low), float(close))))
    return context


def _fetch_checked(
    provider: PriceProvider, symbol: str, *, start: date, end: date, stored: list[StoredBar], today: date, due: date
) -> LoadSummary:
    # Fetch with an open end so bars dated after today are seen (and rejected), not silently clipped.
    frame = provider.fetch(symbol, start, None)
    check_refresh_bars(frame, source=f"{provider.name} {symbol}", stored=stored, today=today, due=due)
    summary = prices_upsert(symbol=symbol, bars=clip_dates(frame, start, end), source=provider.name)
    splits = [day for day in frame.attrs.get(SPLIT_DATES_ATTR) or () if start <= day <= end]
    if splits and stored and stored[0].date < start:
        # The window arrived re-adjusted; bars before it are still on the old scale until history is reloaded.
        logger.warning(
            "%s split on %s: bars of %s before %s are on the pre-split scale; reload them with "
            "manage.py load_prices --source %s --symbols %s",
            symbol,
            splits[0],
            symbol,
            start,
            provider.name,
            symbol,
        )
    return summary


def prices_refresh(
    *,
    provider: PriceProvider,
    start: date,
    end: date,
    now: datetime,
    symbols: Sequence[str] = ALL_SYMBOLS,
    alert_transient: bool = True,
    progress: Callable[[SymbolOutcome], None] | None = None,
) -> RefreshReport:
    """Load ``start..end`` of each symbol from ``provider`` as described in the module docstring.

    ``now`` is the refresh's clock (aware): bars after its UTC date are future, and a session is
    due once :data:`PUBLISH_GRACE` has passed since its close. ``alert_transient`` mails
    operators about transient failures too (the task sets it on its last attempt).
    A metered provider (:mod:`market.budget`) is not asked for a symbol whose ``end`` bar is
    already stored, and is not asked at all once the day's budget is spent. ``progress`` is
    called with each symbol's outcome.
    """
    wanted = _check_symbols(symbols)
    source = provider.name
    today = now.astimezone(UTC).date()
    due = calendar.latest_completed_session(now - PUBLISH_GRACE)
    metered = daily_call_budget(source) is not None
    before = latest_prices_uncached()
    latest = {price.symbol: price for price in before}
    stored = _stored_context(wanted, calendar.add_trading_days(start, -5))
    report = RefreshReport(source=source, start=start, end=end)

    def done(outcome: SymbolOutcome) -> None:
        report.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    if metered:
        # The stalest symbols first, so a budget too small for all of them does not starve the same ones every day.
        wanted.sort(key=lambda s: latest[s].date if s in latest else date.min)
    for symbol in wanted:
        if metered and symbol in latest and latest[symbol].date >= end:
            done(SymbolOutcome(symbol, "skipped", message=f"up to date ({latest[symbol].date}); call saved"))
            continue
        if not call_reserve(provider=source, day=today):
            budget = daily_call_budget(source)
            message = f"the daily call budget of {budget} is spent; {symbol} not refreshed until tomorrow (UTC)"
            logger.warning("price refresh from %s: %s", source, message)
            incident_record(provider=source, symbol="", kind=IncidentKind.BUDGET_EXHAUSTED, message=message, now=now)
            done(SymbolOutcome(symbol, "skipped", kind=IncidentKind.BUDGET_EXHAUSTED, message=message))
            continue
        if metered:
            incidents_resolve(provider=source, symbol="", kinds=[IncidentKind.BUDGET_EXHAUSTED], now=now)
        bars = stored.get(symbol, [])
        if not bars and symbol in latest:
            price = latest[symbol]
            bars = [StoredBar(price.date, float(price.close))]
        try:
            summary = _fetch_checked(provider, symbol, start=start, end=end, stored=bars, today=today, due=due)
        except Conflict as exc:  # demo bars offered for a symbol with real prices: a choice, not a fault
            done(SymbolOutcome(symbol, "skipped", message=exc.message))
            continue
        except (requests.RequestException, ProviderError) as exc:
            kind = classify_failure(exc)
            message = scrub_secrets(str(exc) or type(exc).__name__)
            logger.warning("price refresh of %s from %s failed (%s): %s", symbol, source, kind, message)
            incident_record(provider=source, symbol=symbol, kind=kind, message=message, now=now)
            done(SymbolOutcome(symbol, "failed", kind=kind, message=message))
            continue
        incidents_resolve(provider=source, symbol=symbol, now=now)
        done(SymbolOutcome(symbol, "stored", summary=summary))

    stored_now = [o.summary for o in report.outcomes if o.status == "stored" and o.summary is not None and o.summary.rows]
    failed = [o for o in report.outcomes if o.status == "failed"]
    if stored_now:
        last_dates = [s.last_date for s in stored_now if s.last_date is not None]
        price_fetch_record(source=source, now=now, latest_session=max(last_dates) if last_dates else None)
    elif failed and len(failed) == len(report.outcomes):
        price_fetch_record(source=source, now=now, failure=f"{failed[0].symbol}: {failed[0].message}")
    if any(o.summary is not None and (o.summary.created or o.summary.updated) for o in report.outcomes):
        report.pushed = price_updates_push(changed_prices(before, latest_prices_uncached()))
    report.alerted = len(incidents_alert(provider=source, include_transient=alert_transient, now=now))
    return report


def prices_refresh_run(
    *,
    sessions: int = REFRESH_SESSIONS,
    now: datetime | None = None,
    alert_transient: bool = True,
    progress: Callable[[SymbolOutcome], None] | None = None,
) -> RefreshReport:
    """The scheduled refresh: the last ``sessions`` completed sessions from ``settings.MARKET_DATA_PROVIDER``.

    A provider that cannot be built (a missing API key) is an incident of the whole provider, not a crash.
    """
    now = now or timezone.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    end = calendar.latest_completed_session(now)
    start = calendar.add_trading_days(end, -(max(1, sessions) - 1))
    try:
        provider = provider_build(today=now)
    except ProviderConfigError as exc:
        source = settings.MARKET_DATA_PROVIDER
        logger.error("price refresh: provider %s cannot be used: %s", source, exc)
        incident_record(provider=source, symbol="", kind=IncidentKind.CONFIG, message=scrub_secrets(str(exc)), now=now)
        report = RefreshReport(source=source, start=start, end=end)
        report.outcomes = [SymbolOutcome(s, "failed", kind=IncidentKind.CONFIG, message=str(exc)) for s in ALL_SYMBOLS]
        report.alerted = len(incidents_alert(provider=source, include_transient=alert_transient, now=now))
        return report
    incidents_resolve(provider=provider.name, symbol="", kinds=[IncidentKind.CONFIG], now=now)
    return prices_refresh(provider=provider, start=start, end=end, now=now, alert_transient=alert_transient, progress=progress)
