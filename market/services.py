"""Writes of market data: loading daily bars from a provider into ``PriceBar``.

Loading is idempotent: a bar is compared with what is stored after quantising to the column's
four decimals (``ROUND_HALF_EVEN``) and only new or changed bars are written, so running the same
load twice changes nothing the second time. Each symbol's bars are fetched and validated in full
before the first write, and written in one transaction, so a bad file never leaves half a load.
Network work happens outside transactions.

A symbol's series is never a mix of synthetic and real bars: loading real bars removes that
symbol's demo bars (in the same transaction), and the demo market refuses to load into a symbol
that holds real bars.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

import pandas as pd
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Field
from django.utils import timezone

from market.models import PriceBar, PriceFetch, PriceSource
from market.providers import PriceProvider, ProviderError, get_provider
from market.providers.base import clean_bars, clip_dates
from market.selectors import invalidate_latest_prices, invalidate_price_source, stored_real_source
from market.symbols import ALL_SYMBOLS
from quantai.errors import Conflict, ValidationFailed

logger = logging.getLogger(__name__)

PRICE_QUANTUM = Decimal("0.0001")  # PriceBar's decimal_places=4
BATCH_SIZE = 1000
_PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")
_WRITE_FIELDS = (*_PRICE_FIELDS, "volume", "source", "updated_at")


@dataclass(frozen=True)
class LoadSummary:
    """What one symbol's load did. ``error`` is set (and nothing was written) when it failed;
    ``skipped`` says why a load was deliberately not done (demo bars for a symbol with real prices)."""

    symbol: str
    source: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    first_date: date | None = None
    last_date: date | None = None
    error: str | None = None
    #: Synthetic demo bars of this symbol deleted because real bars arrived.
    removed_demo: int = 0
    skipped: str | None = None

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        """One line for people: ``AAPL  4587 rows 2005-10-10..2023-12-29  created 4587  updated 0  unchanged 0``."""
        if self.error is not None:
            return f"{self.symbol:<5}  FAILED  {self.error}"
        if self.skipped is not None:
            return f"{self.symbol:<5}  skipped: {self.skipped}"
        span = f"{self.first_date}..{self.last_date}" if self.rows else "no bars in range"
        counts = f"created {self.created}  updated {self.updated}  unchanged {self.unchanged}"
        removed = f"  removed {self.removed_demo} demo bars" if self.removed_demo else ""
        return f"{self.symbol:<5}  {self.rows} rows {span}  {counts}{removed}"


def quantise_price(value: float | Decimal | str) -> Decimal:
    """A price as stored: four decimals, ties to even.

    Floats go through their shortest ``repr`` so a value read from text ("1.00005") rounds as
    that text would, not as its binary approximation.
    """
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def _check_symbols(symbols: Iterable[str]) -> list[str]:
    wanted = [str(s).upper() for s in symbols]
    unknown = [s for s in wanted if s not in ALL_SYMBOLS]
    if unknown:
        raise ValidationFailed(
            f"unknown symbol{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; QuantAI stores {', '.join(ALL_SYMBOLS)}",
            fields={"symbols": [f"unknown symbol {s}" for s in unknown]},
        )
    return wanted


def _check_source(source: str) -> str:
    if source not in PriceSource.values:
        raise ValidationFailed(f"unknown price source {source!r}", fields={"source": [f"choose one of {PriceSource.values}"]})
    return source


def _bar_values(row: Any) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]:
    return (
        quantise_price(row.open),
        quantise_price(row.high),
        quantise_price(row.low),
        quantise_price(row.close),
        quantise_price(row.adj_close),
        int(row.volume),
    )


def _update_bars(bars: list[PriceBar]) -> None:
    """Write changed bars by primary key with one prepared ``UPDATE`` run per row.

    Django's ``bulk_update`` builds a ``CASE WHEN`` per field per row in Python (about 1.5 ms a
    bar: 7 s for one symbol's history when a dividend re-adjusts it); ``executemany`` of a plain
    ``UPDATE`` does the same work in a fraction of that on SQLite and MySQL. Values go through
    each field's ``get_db_prep_save``, exactly as the ORM would send them.
    """
    connection = connections[router.db_for_write(PriceBar)]
    fields = [cast(Field, PriceBar._meta.get_field(name)) for name in _WRITE_FIELDS]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(str(field.column))} = %s" for field in fields)
    # Only quoted identifiers from the model's own metadata are interpolated; values are parameters.
    pk_column = str(cast(Field, PriceBar._meta.pk).column)
    sql = f"UPDATE {qn(PriceBar._meta.db_table)} SET {assignments} WHERE {qn(pk_column)} = %s"  # noqa: S608
    rows = [[*(field.get_db_prep_save(getattr(bar, field.attname), connection) for field in fields), bar.pk] for bar in bars]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(sql, rows[start : start + BATCH_SIZE])


def prices_upsert(*, symbol: str, bars: pd.DataFrame, source: str) -> LoadSummary:
    """Store ``bars`` (a provider frame, see :mod:`market.providers`) for ``symbol``; idempotent.

    Existing bars in the frame's date range are read in one query; new dates are created, bars
    whose quantised values or source differ are updated, equal ones are left alone. Everything
    happens in one transaction; the latest-price cache is invalidated after commit.

    Real (non-demo) bars replace all of the symbol's demo bars; demo bars for a symbol that has
    real ones raise :class:`quantai.errors.Conflict`. Bars that fail validation raise
    :class:`market.providers.PriceDataError` before anything is written.
    """
    (symbol,) = _check_symbols([symbol])
    _check_source(source)
    # Providers already validated their frames; checking again (~20 ms for 20 years) keeps this
    # service safe for any caller and turns a bad bar into a clear error, not an IntegrityError.
    bars = clean_bars(bars, source=f"{source} {symbol}")
    if bars.empty:
        return LoadSummary(symbol=symbol, source=source)

    incoming: dict[date, tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]] = {}
    for row in bars.itertuples(index=False):
        incoming[row.date] = _bar_values(row)
    first, last = min(incoming), max(incoming)

    now = timezone.now()
    to_create: list[PriceBar] = []
    to_update: list[PriceBar] = []
    unchanged = 0
    removed_demo = 0
    with transaction.atomic():
        if source == PriceSource.DEMO:
            real = PriceBar.objects.filter(symbol=symbol).exclude(source=PriceSource.DEMO).values_list("source", flat=True)
            real_source = real.first()
            if real_source is not None:
                raise Conflict(
                    f"{symbol} holds real prices (from {real_source}); demo bars are not mixed into them",
                    code="real_prices_present",
                )
        else:
            removed_demo, _ = PriceBar.objects.filter(symbol=symbol, source=PriceSource.DEMO).delete()
        existing = {bar.date: bar for bar in PriceBar.objects.filter(symbol=symbol, date__gte=first, date__lte=last)}
        for day, values in incoming.items():
            bar = existing.get(day)
            if bar is None:
                to_create.append(
                    PriceBar(
                        symbol=symbol,
                        date=day,
                        open=values[0],
                        high=values[1],
                        low=values[2],
                        close=values[3],
                        adj_close=values[4],
                        volume=values[5],
                        source=source,
                    )
                )
                continue
            stored = (bar.open, bar.high, bar.low, bar.close, bar.adj_close, bar.volume)
            if stored == values and bar.source == source:
                unchanged += 1
                continue
            bar.open, bar.high, bar.low, bar.close, bar.adj_close, bar.volume = values
            bar.source = source
            bar.updated_at = now  # a raw update skips auto_now
            to_update.append(bar)
        if to_create:
            PriceBar.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            _update_bars(to_update)
        if to_create or to_update or removed_demo:
            transaction.on_commit(invalidate_latest_prices)
    return LoadSummary(
        symbol=symbol,
        source=source,
        created=len(to_create),
        updated=len(to_update),
        unchanged=unchanged,
        first_date=first,
        last_date=last,
        removed_demo=removed_demo,
    )


def prices_load(
    *,
    provider: PriceProvider,
    symbols: Sequence[str],
    start: date | None = None,
    end: date | None = None,
    progress: Callable[[LoadSummary], None] | None = None,
    now: datetime | None = None,
) -> list[LoadSummary]:
    """Fetch, validate and store each symbol's bars from ``provider``; one :class:`LoadSummary` per symbol.

    Unknown symbols are rejected before anything is fetched. A symbol whose data the provider
    rejects (bad file line, missing file, API error payload) gets a summary with ``error`` and
    nothing written; the other symbols still load. Demo bars for a symbol that holds real prices
    are ``skipped`` (not an error: ``make run`` loads the demo market on every start).
    Connection errors and timeouts are not caught, so a task can retry them. ``progress`` is
    called after each symbol. The fetch is recorded (:func:`price_fetch_record`) as made at ``now``.
    """
    wanted = _check_symbols(symbols)
    source = _check_source(provider.name)
    summaries: list[LoadSummary] = []
    for symbol in wanted:
        try:
            bars = clip_dates(provider.fetch(symbol, start, end), start, end)
            summary = prices_upsert(symbol=symbol, bars=bars, source=source)
        except ProviderError as exc:
            logger.debug("price load of %s from %s failed: %s", symbol, source, exc)
            summary = LoadSummary(symbol=symbol, source=source, error=str(exc))
        except Conflict as exc:
            summary = LoadSummary(symbol=symbol, source=source, skipped=exc.message)
        summaries.append(summary)
        if progress is not None:
            progress(summary)
    delivered = [s for s in summaries if s.ok and s.rows]
    if delivered:
        price_fetch_record(source=source, now=now, latest_session=max(s.last_date for s in delivered if s.last_date))
    elif summaries and all(not s.ok for s in summaries):
        price_fetch_record(source=source, now=now, failure=summaries[0].error or "no bars")
    return summaries


def price_fetch_record(
    *, source: str, now: datetime | None = None, latest_session: date | None = None, failure: str | None = None
) -> PriceFetch:
    """Record a fetch from ``source`` at ``now``: a success (``failure`` is ``None``) with the newest session it
    delivered, or a failed attempt and why. One row per source (:class:`~market.models.PriceFetch`)."""
    _check_source(source)
    now = now or timezone.now()
    with transaction.atomic():
        fetch, _ = PriceFetch.objects.select_for_update().get_or_create(source=source)
        if failure is None:
            fetch.fetched_at = now
            if latest_session is not None:
                fetch.latest_session = latest_session
        else:
            fetch.failed_at = now
            fetch.failure = failure[:2000]
        fetch.save()
        transaction.on_commit(invalidate_price_source)
    return fetch


def provider_build(
    *,
    source: str | None = None,
    path: str | None = None,
    seed: int | None = None,
    today: date | datetime | None = None,
) -> PriceProvider:
    """The provider named ``source`` (default ``settings.MARKET_DATA_PROVIDER``), configured from settings.

    ``path`` overrides ``MARKET_DATA_CSV_DIR``, ``seed`` overrides ``MARKET_DATA_DEMO_SEED``;
    ``today`` pins the demo market's clock. API keys come from ``ALPHAVANTAGE_API_KEY`` and
    ``FINAZON_API_KEY``. Raises :class:`market.providers.ProviderConfigError` when it cannot be built.

    ``"auto"`` (what ``make run`` sets) is the provider of the stored market: the real provider whose
    bars are stored, else the demo market. Which market is stored is decided when prices are loaded
    (``load_prices --source auto``, see :mod:`market.sourcing`), so a refresh never mixes the two.
    """
    name = source or settings.MARKET_DATA_PROVIDER
    if name == "auto":
        name = stored_real_source() or PriceSource.DEMO.value
    options: dict[str, Any] = {}
    if name == "csv":
        options["path"] = path or settings.MARKET_DATA_CSV_DIR
    elif name == "alphavantage":
        options["api_key"] = settings.ALPHAVANTAGE_API_KEY
    elif name == "finazon":
        options["api_key"] = settings.FINAZON_API_KEY
    elif name == "demo":
        options["seed"] = settings.MARKET_DATA_DEMO_SEED if seed is None else seed
        options["today"] = today
    return get_provider(name, **options)
