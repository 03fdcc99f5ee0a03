"""Reads of market data. The latest bar per symbol is hot (every page shows it), so it is cached
and the cache is invalidated by the service that writes bars."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, router
from django.db.models import Field, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from market.models import PriceBar, PriceFetch, PriceSource, ProviderCallCount, ProviderIncident
from market.symbols import ALL_SYMBOLS

if TYPE_CHECKING:
    import pandas as pd

LATEST_PRICES_CACHE_KEY = "market:latest-prices:v1"
PRICE_SOURCE_CACHE_KEY = "market:price-source:v1"
#: Changes whenever stored bars change (see :func:`prices_version`).
PRICES_VERSION_CACHE_KEY = "market:prices-version:v1"
_PRICE_QUANTUM = Decimal("0.0001")  # PriceBar's decimal_places=4


@dataclass(frozen=True)
class LatestPrice:
    symbol: str
    date: date
    close: Decimal
    previous_close: Decimal | None
    source: str

    @property
    def change_pct(self) -> Decimal | None:
        if not self.previous_close:
            return None
        return ((self.close / self.previous_close) - 1) * 100


def _latest_bar_ids() -> RawSQL:
    """Primary keys of each symbol's newest bar.

    A join against ``GROUP BY symbol`` is the one form both SQLite and MariaDB run off the
    ``(symbol, date)`` index (MariaDB as a loose index scan); window functions and per-row
    correlated subqueries read the whole table instead (~60-90 ms for 26,000 bars against
    ~3-9 ms). Only quoted identifiers from the model's metadata are interpolated.
    """
    connection = connections[router.db_for_read(PriceBar)]
    qn = connection.ops.quote_name
    table = qn(PriceBar._meta.db_table)
    pk, symbol, day = (qn(str(cast(Field, PriceBar._meta.get_field(name)).column)) for name in ("id", "symbol", "date"))
    return RawSQL(  # noqa: S611
        f"SELECT b.{pk} FROM {table} b INNER JOIN "  # noqa: S608
        f"(SELECT {symbol}, MAX({day}) AS latest FROM {table} GROUP BY {symbol}) m "
        f"ON b.{symbol} = m.{symbol} AND b.{day} = m.latest",
        [],
    )


def latest_prices_uncached() -> list[LatestPrice]:
    """The most recent bar of each symbol with the close before it, in one query, in ``ALL_SYMBOLS`` order."""
    previous = PriceBar.objects.filter(symbol=OuterRef("symbol"), date__lt=OuterRef("date")).order_by("-date")
    rows = {
        row["symbol"]: row
        for row in PriceBar.objects.filter(pk__in=_latest_bar_ids())
        .annotate(previous_close=Subquery(previous.values("close")[:1]))
        .values("symbol", "date", "close", "previous_close", "source")
    }
    result = []
    for symbol in ALL_SYMBOLS:
        row = rows.get(symbol)
        if row is None:
            continue
        before = row["previous_close"]
        result.append(
            LatestPrice(
                symbol=symbol,
                date=row["date"],
                close=row["close"],
                # A subquery's decimal comes back unscaled on SQLite (191.954900000000).
                previous_close=None if before is None else Decimal(before).quantize(_PRICE_QUANTUM, ROUND_HALF_EVEN),
                source=row["source"],
            )
        )
    return result


def latest_prices() -> list[LatestPrice]:
    """The most recent bar of each symbol (with the close before it), from the cache when warm; one query when cold."""
    cached = cache.get(LATEST_PRICES_CACHE_KEY)
    if cached is not None:
        return cached
    result = latest_prices_uncached()
    cache.set(LATEST_PRICES_CACHE_KEY, result, timeout=settings.LATEST_PRICE_CACHE_SECONDS)
    return result


def invalidate_latest_prices() -> None:
    """Forget everything cached from the bars: call after bars are written (after the commit)."""
    cache.delete_many([LATEST_PRICES_CACHE_KEY, PRICES_VERSION_CACHE_KEY, PRICE_SOURCE_CACHE_KEY])


def daily_closes() -> pd.DataFrame:
    """Every stored close as floats, one column per symbol (sorted), indexed by session (``DatetimeIndex``).

    Cached per :func:`prices_version`, so it is read from the database once after each bar write; callers
    slice it (``frame.loc[start:]``) and must not modify it.
    """
    import pandas as pd  # the workers' computations need it; a web worker's pages must not load it

    key = f"market:daily-closes:v1:{prices_version()}"
    cached = cache.get(key)
    if isinstance(cached, pd.DataFrame):
        return cached
    bars = PriceBar.objects.filter(symbol__in=ALL_SYMBOLS).values_list("date", "symbol", "close")
    frame = pd.DataFrame(list(bars), columns=["date", "symbol", "close"])
    if frame.empty:
        closes = pd.DataFrame(index=pd.DatetimeIndex([]), dtype=float)
    else:
        frame["close"] = frame["close"].astype(float)
        closes = frame.pivot(index="date", columns="symbol", values="close").sort_index()
        closes.index = pd.DatetimeIndex(closes.index)
    cache.set(key, closes, timeout=settings.LATEST_PRICE_CACHE_SECONDS * 12)
    return closes


def prices_version() -> str:
    """A token that changes whenever the stored bars change, for cache keys of figures computed from them.

    A fresh random token is started after each write (:func:`invalidate_latest_prices`) and whenever the
    cache lost it (a Redis restart empties the figures keyed by it too), so a token is never reused.
    """
    version = cache.get(PRICES_VERSION_CACHE_KEY)
    if version is None:
        cache.add(PRICES_VERSION_CACHE_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(PRICES_VERSION_CACHE_KEY) or uuid.uuid4().hex  # a cache that is down: never a hit
    return str(version)


def _configured_provider() -> str:
    """``MARKET_DATA_PROVIDER``, with the provider it stands for when it is ``auto`` (``auto: yfinance``)."""
    name = str(settings.MARKET_DATA_PROVIDER)
    if name != "auto":
        return name
    return f"auto: {stored_real_source() or PriceSource.DEMO.value}"


def provider_health(*, now: datetime | None = None) -> dict[str, Any]:
    """The price feed for operators (System page, ``/metrics``): two queries and one cache read.

    ``provider``: the configured source (``auto: <provider>`` for ``auto``). ``failing``: providers with open incidents.
    ``open_incidents``: each open :class:`~market.models.ProviderIncident` as plain data, most
    recent first. ``budgets``: today's (UTC) calls of every metered provider against its budget.
    ``latest``: the newest stored session of each symbol, so a feed that went quiet shows.
    """
    from market.budget import DEFAULT_DAILY_CALL_BUDGETS, daily_call_budget

    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    incidents = [
        {
            "provider": i.provider,
            "symbol": i.symbol,
            "kind": i.kind,
            "kind_label": i.get_kind_display(),
            "transient": i.transient,
            "message": i.message,
            "occurrences": i.occurrences,
            "first_seen_at": i.first_seen_at,
            "last_seen_at": i.last_seen_at,
            "alerted": i.alerted_at is not None,
        }
        for i in ProviderIncident.objects.filter(open_key__isnull=False).order_by("-last_seen_at", "-id")
    ]
    metered = {*DEFAULT_DAILY_CALL_BUDGETS, *(getattr(settings, "MARKET_DATA_DAILY_CALL_BUDGETS", None) or {})}
    used = dict(ProviderCallCount.objects.filter(day=today).values_list("provider", "calls"))
    budgets = [
        {"provider": name, "day": today, "calls": int(used.get(name, 0)), "budget": daily_call_budget(name)}
        for name in sorted(metered)
        if daily_call_budget(name) is not None
    ]
    return {
        "provider": _configured_provider(),
        "failing": sorted({i["provider"] for i in incidents}),
        "open_incidents": incidents,
        "budgets": budgets,
        "latest": [{"symbol": p.symbol, "date": p.date, "source": p.source} for p in latest_prices()],
    }


@dataclass(frozen=True)
class PriceSourceStatus:
    """Where the prices the pages show come from, and when they were fetched (the banner on every page).

    ``sources``: the distinct sources of the symbols' newest bars (one, unless an operator loaded
    symbols from different providers). ``synthetic``: every stored symbol is the demo market.
    ``fetched_at``/``latest_session``: the last fetch from that source (for the demo market, when it
    was generated). ``unreachable``/``unreachable_at``: why the real provider (``real_label``) is not
    shown, when its latest attempt failed after its latest success.
    """

    sources: tuple[str, ...]
    labels: tuple[str, ...]
    synthetic: bool
    fetched_at: datetime | None
    latest_session: date | None
    real_label: str = ""
    unreachable: str = ""
    unreachable_at: datetime | None = None


def _label(source: str) -> str:
    try:
        return str(PriceSource(source).label)
    except ValueError:
        return source


def price_source_status_uncached() -> PriceSourceStatus | None:
    """:class:`PriceSourceStatus` from the latest bars and the fetch records; ``None`` before any bar is stored."""
    latest = latest_prices()
    if not latest:
        return None
    sources = tuple(dict.fromkeys(p.source for p in latest))
    fetches = {f.source: f for f in PriceFetch.objects.all()}
    shown = [fetches[s] for s in sources if s in fetches]
    fetched = [f.fetched_at for f in shown if f.fetched_at is not None]
    synthetic = sources == (PriceSource.DEMO.value,)
    real_label, unreachable, unreachable_at = "", "", None
    if synthetic:
        # The newest failed attempt of a real provider that has not succeeded since: why real prices are not shown.
        failed = [
            f
            for f in fetches.values()
            if f.source != PriceSource.DEMO and f.failed_at is not None and (f.fetched_at is None or f.failed_at > f.fetched_at)
        ]
        if failed:
            last = max(failed, key=lambda f: f.failed_at or datetime.min.replace(tzinfo=UTC))
            real_label, unreachable, unreachable_at = _label(last.source), last.failure, last.failed_at
    return PriceSourceStatus(
        sources=sources,
        labels=tuple(_label(s) for s in sources),
        synthetic=synthetic,
        # The oldest of the shown sources' fetches: the page is only as fresh as its stalest source.
        fetched_at=min(fetched) if fetched else None,
        latest_session=max(p.date for p in latest),
        real_label=real_label,
        unreachable=unreachable,
        unreachable_at=unreachable_at,
    )


def price_source_status() -> PriceSourceStatus | None:
    """:func:`price_source_status_uncached` from the cache when warm (every page reads it); ``None`` if unknown.

    A database that cannot answer gives ``None`` (the page then says nothing about its prices) rather
    than an error page.
    """
    cached = cache.get(PRICE_SOURCE_CACHE_KEY)
    if cached is not None:
        return cached or None
    try:
        status = price_source_status_uncached()
    except DatabaseError:
        return None
    cache.set(PRICE_SOURCE_CACHE_KEY, status or False, timeout=settings.LATEST_PRICE_CACHE_SECONDS)
    return status


def invalidate_price_source() -> None:
    """Forget the cached :class:`PriceSourceStatus`: call after a fetch is recorded (after the commit)."""
    cache.delete(PRICE_SOURCE_CACHE_KEY)


def stored_real_source() -> str | None:
    """The provider of the stored real (non-demo) bars, or ``None`` when only the demo market (or nothing) is stored."""
    return PriceBar.objects.exclude(source=PriceSource.DEMO).order_by("-date").values_list("source", flat=True).first()
