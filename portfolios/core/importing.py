"""Reading a transactions CSV into ledger rows (pure: no Django, no database).

Two formats are understood; :func:`parse_transactions_csv` detects which from the header row.

**QuantAI CSV** (``quantai``), the documented format. One header row; column names are
case-insensitive and in any order; columns not listed here are ignored (and named in the preview).

=============  ========  =====================================================================
column         required  meaning
=============  ========  =====================================================================
``date``       yes       ``YYYY-MM-DD`` (recorded at the close, 21:00 UTC), or an ISO 8601 time
                         with an offset (``2024-03-01T15:30:00+00:00``, as the history export
                         writes it). Alias: ``executed_at``.
``side``       yes       ``BUY``, ``SELL``, ``SHORT``, ``COVER``, ``DEPOSIT`` or ``WITHDRAW``.
``symbol``     trades    AAPL, AMZN, GOOGL, META or NVDA; empty for DEPOSIT/WITHDRAW.
``shares``     trades    more than 0, at most 4 decimals.
``price``      trades    USD per share, more than 0, at most 2 decimals.
``fees``       no        USD, 0 or more, at most 2 decimals (empty: 0).
``amount``     cash      DEPOSIT/WITHDRAW only: USD, more than 0, at most 2 decimals. The export's
                         signed ``cash_delta`` is read as the amount when there is no ``amount``.
``currency``   no        ``USD`` (the only currency of the five); empty means USD.
``note``       no        up to 200 characters, kept on the ledger entry.
=============  ========  =====================================================================

Numbers are decimal strings of ASCII digits (``1234.5``): no thousands separators, currency
signs or exponents. The history export (``trades.csv``) is itself a QuantAI CSV.

**Interactive Brokers Flex Query, Trades section, CSV** (``ibkr_flex``). Columns by their Flex
field names: ``Symbol``, ``Buy/Sell``, ``Quantity``, ``TradePrice``, and ``TradeDate`` or
``DateTime`` (required); ``IBCommission``, ``CurrencyPrimary``, ``AssetClass``,
``Open/CloseIndicator``, ``LevelOfDetail``, ``TradeID`` (optional). Dates ``yyyyMMdd``,
``yyyy-MM-dd`` or ``MM/dd/yyyy``; ``DateTime`` ``yyyyMMdd;HHmmss`` (its time orders a day's fills).
Only stock rows (``AssetClass`` STK) in USD of the five symbols; ``SELL`` with
``Open/CloseIndicator`` ``O`` is a short sale and ``BUY`` with ``C`` covering a short when the
indicator says so. Rows whose ``LevelOfDetail`` is not ``EXECUTION`` (order summaries, closed
lots), header and trailer records (``BOF``, ``BOA``, ``EOF``...) and repeated header rows are
skipped and listed. The commission (negative in IB's sign) becomes the fees, and prices and fees
with more decimals than the ledger keeps are rounded to cents (half-even) with a warning.

Each row gets a stable key: the SHA-256 of its normalised content (date, side, symbol, shares,
price, fees or amount; not the note, not the format) and its occurrence among identical rows of
the file. Importing the same file again, or an export of the same trades in the other format,
finds the same keys.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from portfolios.core.ledger import CASH_SIDES, MAX_FEES, MAX_MONEY, MAX_PRICE, MAX_SHARES, TRADE_SIDES, Side

#: Largest file, in bytes, and most data rows a file may have (the API's request limit is 512 KiB).
MAX_BYTES = 400 * 1024
MAX_ROWS = 1000
MAX_NOTE = 200
#: A date-only row is recorded at the close of its day: 21:00 UTC is after the NYSE close all year.
CLOSE_TIME_UTC = time(21, 0)
KEY_PREFIX = "import:"
_ASCII_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CENT = Decimal("0.01")
_SHARE = Decimal("0.0001")


class ImportFormat(StrEnum):
    QUANTAI = "quantai"
    IBKR_FLEX = "ibkr_flex"


FORMAT_LABELS = {
    ImportFormat.QUANTAI: "QuantAI CSV",
    ImportFormat.IBKR_FLEX: "Interactive Brokers Flex Query (Trades, CSV)",
}


class FileError(ValueError):
    """The file as a whole cannot be read (not UTF-8, too large, no known header...)."""


@dataclass(frozen=True)
class RowError:
    """One problem with one row: ``row`` is the file's line number (the header is line 1)."""

    row: int
    column: str
    message: str


@dataclass
class ParsedRow:
    """A row read from the file, normalised (Decimals quantised to the ledger's scales)."""

    row: int
    side: Side
    trade_date: date
    symbol: str = ""
    shares: Decimal = Decimal("0")
    price: Decimal = Decimal("0")
    fees: Decimal = Decimal("0.00")
    amount: Decimal = Decimal("0.00")
    #: An exact time when the file gives one with an offset; else the row is recorded at the day's close.
    executed_at: datetime | None = None
    #: Orders rows of the same day (a broker's time of day without a zone); never recorded.
    intraday: str = ""
    note: str = ""
    warnings: list[str] = field(default_factory=list)
    key: str = ""

    def normalised(self) -> str:
        """What identifies the transaction, whatever file it came from."""
        if self.side in CASH_SIDES:
            parts = [self.trade_date.isoformat(), self.side.value, _plain(self.amount)]
        else:
            parts = [self.trade_date.isoformat(), self.side.value, self.symbol, _plain(self.shares), _plain(self.price)]
            parts.append(_plain(self.fees))
        return "|".join(parts)

    def sort_key(self) -> tuple[datetime, str, int]:
        at = self.executed_at or datetime.combine(self.trade_date, CLOSE_TIME_UTC, tzinfo=UTC)
        return (at, self.intraday, self.row)


@dataclass
class ParseResult:
    format: ImportFormat
    rows: list[ParsedRow]
    errors: list[RowError]
    ignored_columns: list[str]
    #: Rows read but not imported on purpose (line, why): summaries, trailers, repeated headers.
    skipped: list[tuple[int, str]]
    #: Data rows in the file (rows, skipped and rows with errors).
    total_rows: int
    sha256: str
    #: The file's name for each of date, side, symbol, shares, price, fees, amount (for error messages).
    columns: dict[str, str] = field(default_factory=dict)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def row_keys(rows: Iterable[ParsedRow]) -> None:
    """Give each row its stable key: hash of the normalised row and its occurrence among identical rows."""
    seen: Counter[str] = Counter()
    for row in rows:
        normal = row.normalised()
        occurrence = seen[normal]
        seen[normal] += 1
        digest = hashlib.sha256(f"{normal}#{occurrence}".encode()).hexdigest()
        row.key = f"{KEY_PREFIX}{digest[:48]}"


# --- Reading the file --------------------------------------------------------------------------


def decode(content: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    if not content.strip():
        raise FileError("The file is empty.")
    if len(content) > max_bytes:
        raise FileError(f"The file is {len(content):,} bytes; the limit is {max_bytes:,} bytes. Split it and import the parts.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError("The file is not UTF-8 text. Save it as CSV (UTF-8) and try again.") from None


def _header_key(name: str) -> str:
    return name.strip().lower()


_QUANTAI_ALIASES = {"executed_at": "date", "cash_delta": "cash_delta"}
_QUANTAI_COLUMNS = {"date", "side", "symbol", "shares", "price", "fees", "amount", "currency", "note", "cash_delta"}
#: Columns the history export writes that the import reads past without naming them as ignored.
_EXPORT_ONLY = {"id", "realized_pnl", "source"}
_IBKR_REQUIRED = {"symbol", "buy/sell", "quantity", "tradeprice"}
_IBKR_KNOWN = _IBKR_REQUIRED | {
    "tradedate",
    "datetime",
    "date/time",
    "ibcommission",
    "currencyprimary",
    "assetclass",
    "open/closeindicator",
    "levelofdetail",
    "tradeid",
}
_IB_RECORDS = {"BOF", "BOA", "BOS", "EOS", "EOA", "EOF", "MSG"}


def detect_format(header: list[str]) -> ImportFormat | None:
    names = {_header_key(h) for h in header}
    if names >= _IBKR_REQUIRED and (names & {"tradedate", "datetime", "date/time"}):
        return ImportFormat.IBKR_FLEX
    if {"side"} <= names and names & {"date", "executed_at"}:
        return ImportFormat.QUANTAI
    return None


def parse_transactions_csv(
    content: bytes, *, fmt: str | None = None, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> ParseResult:
    """Read ``content`` (the file's bytes) as ``fmt`` (``None``: detect it). Raises :class:`FileError`."""
    text = decode(content, max_bytes=max_bytes)
    sha = hashlib.sha256(content).hexdigest()
    records = list(_records(text))
    if fmt is None:
        header = next((r for _, r in records if r and not _is_ib_record(r)), None)
        detected = detect_format(header) if header else None
        if detected is None:
            raise FileError(
                "The columns were not recognised. A QuantAI CSV needs date, side, symbol, shares, price "
                "(fees, amount, currency, note optional); an Interactive Brokers Flex Trades CSV needs "
                "Symbol, Buy/Sell, Quantity, TradePrice and TradeDate."
            )
        fmt = detected
    try:
        chosen = ImportFormat(fmt)
    except ValueError:
        raise FileError(f"Unknown format {fmt!r}; choose one of {', '.join(f.value for f in ImportFormat)}.") from None
    reader = _QuantAIReader() if chosen == ImportFormat.QUANTAI else _IbkrReader()
    result = reader.read(records, max_rows=max_rows)
    result.sha256 = sha
    row_keys(result.rows)
    return result


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for record in reader:
            yield reader.line_num, record
    except csv.Error as exc:
        raise FileError(f"Line {reader.line_num}: this is not well-formed CSV ({exc}).") from None


def _is_ib_record(record: list[str]) -> bool:
    return bool(record) and record[0].strip().upper() in _IB_RECORDS


class _RowProblems(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(errors)
        self.errors = errors


class _Row:
    """One record as ``{column: text}``, collecting its errors."""

    def __init__(self, line: int, values: dict[str, str], columns: dict[str, str]) -> None:
        self.line, self.values, self.columns = line, values, columns
        self.errors: list[RowError] = []
        self.warnings: list[str] = []

    def text(self, key: str) -> str:
        return self.values.get(key, "").strip()

    def error(self, key: str, message: str) -> None:
        self.errors.append(RowError(self.line, self.columns.get(key, key), message))

    def decimal(
        self, key: str, *, places: int, maximum: Decimal, allow_zero: bool = False, signed: bool = False, rounding: bool = False
    ) -> Decimal | None:
        """A strict ASCII decimal; with ``rounding``, more places are rounded to ``places`` with a warning."""
        raw = self.text(key)
        if raw == "":
            self.error(key, "Required for this row.")
            return None
        if _ASCII_DECIMAL.fullmatch(raw) is None:
            self.error(key, f'"{raw[:40]}" is not a number: use the digits 0-9 and a decimal point, as in 12.50.')
            return None
        value = Decimal(raw)
        if signed:
            value = abs(value)
        elif value < 0:
            self.error(key, "Must not be negative.")
            return None
        step = Decimal(1).scaleb(-places)
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            if not rounding:
                self.error(key, f"Use at most {places} decimal places.")
                return None
            rounded = value.quantize(step, rounding=ROUND_HALF_EVEN)
            self.warnings.append(f"{self.columns.get(key, key)} {raw} rounded to {rounded} (the ledger keeps {places} decimals).")
            value = rounded
        if value == 0 and not allow_zero:
            self.error(key, "Must be more than 0.")
            return None
        if value > maximum:
            self.error(key, f"Must be at most {maximum}.")
            return None
        return value.quantize(step)


class _Reader:
    format: ImportFormat
    #: canonical name -> this format's key for it
    canonical: dict[str, str] = {}

    def header_columns(self, header: list[str]) -> tuple[dict[int, str], list[str], dict[str, str]]:
        """``index -> key`` for the known columns, the ignored column names, and ``key -> column as written``."""
        raise NotImplementedError

    def missing(self, keys: set[str]) -> list[str]:
        """The required columns the header lacks."""
        raise NotImplementedError

    def row(self, row: _Row) -> ParsedRow | str | None:
        """A parsed row, a reason to skip it (str), or ``None`` when it has errors (in ``row.errors``)."""
        raise NotImplementedError

    def is_skipped_record(self, record: list[str]) -> bool:
        return False

    def read(self, records: list[tuple[int, list[str]]], *, max_rows: int) -> ParseResult:
        header: list[str] | None = None
        index: dict[int, str] = {}
        ignored: list[str] = []
        written: dict[str, str] = {}
        rows: list[ParsedRow] = []
        errors: list[RowError] = []
        skipped: list[tuple[int, str]] = []
        total = 0
        for line, record in records:
            if not any(cell.strip() for cell in record):
                continue  # blank lines
            if self.is_skipped_record(record):
                skipped.append((line, f"{record[0].strip().upper()} record (header or trailer)"))
                continue
            if header is None:
                header = record
                index, ignored, written = self.header_columns(record)
                missing = self.missing(set(index.values()))
                if missing:
                    raise FileError(f"Missing column(s): {', '.join(missing)} (line {line}).")
                continue
            if [c.strip() for c in record] == [c.strip() for c in header]:
                skipped.append((line, "repeated header row"))
                continue
            total += 1
            if total > max_rows:
                raise FileError(f"The file has more than {max_rows:,} rows; split it and import the parts.")
            values = {key: record[i] if i < len(record) else "" for i, key in index.items()}
            row = _Row(line, values, written)
            if len(record) != len(header):
                row.error("file", f"This row has {len(record)} fields; the header has {len(header)}.")
                errors.extend(row.errors)
                continue
            parsed = self.row(row)
            if isinstance(parsed, str):
                skipped.append((line, parsed))
            elif parsed is None or row.errors:
                errors.extend(row.errors)
            else:
                parsed.warnings.extend(row.warnings)
                rows.append(parsed)
        if header is None:
            raise FileError("The file has no header row.")
        if total == 0:
            raise FileError("The file has a header but no transactions.")
        return ParseResult(
            format=self.format,
            rows=rows,
            errors=errors,
            ignored_columns=ignored,
            skipped=skipped,
            total_rows=total,
            sha256="",
            columns={name: written.get(key, key) for name, key in self.canonical.items()},
        )


def _parse_iso_date(raw: str) -> tuple[date, datetime | None] | None:
    """``YYYY-MM-DD``, or an ISO 8601 time with an offset (its UTC date and the time itself)."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        try:
            return date.fromisoformat(raw), None
        except ValueError:
            return None
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})", raw):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        at = at.astimezone(UTC)
        return at.date(), at
    return None


class _QuantAIReader(_Reader):
    format = ImportFormat.QUANTAI
    canonical = {k: k for k in ("date", "side", "symbol", "shares", "price", "fees", "amount")}

    def missing(self, keys: set[str]) -> list[str]:
        return sorted({"date", "side"} - keys)

    def header_columns(self, header: list[str]) -> tuple[dict[int, str], list[str], dict[str, str]]:
        index: dict[int, str] = {}
        ignored: list[str] = []
        written: dict[str, str] = {}
        for i, name in enumerate(header):
            key = _header_key(name)
            key = _QUANTAI_ALIASES.get(key, key)
            if key in _QUANTAI_COLUMNS and key not in index.values():
                index[i] = key
                written[key] = name.strip()
            elif key not in _EXPORT_ONLY:
                ignored.append(name.strip())
        return index, ignored, written

    def row(self, row: _Row) -> ParsedRow | str | None:
        raw_date = row.text("date")
        when = _parse_iso_date(raw_date)
        if when is None:
            row.error("date", "Use YYYY-MM-DD (or an ISO 8601 time with an offset)." if raw_date else "Required.")
        raw_side = row.text("side").upper()
        try:
            side = Side(raw_side)
        except ValueError:
            row.error("side", "Use BUY, SELL, SHORT, COVER, DEPOSIT or WITHDRAW." if raw_side else "Required.")
            return None
        currency = row.text("currency").upper()
        if currency not in ("", "USD"):
            row.error("currency", f"Only USD: the five symbols trade in US dollars (got {currency[:10]}).")
        note = row.text("note")
        if len(note) > MAX_NOTE:
            row.error("note", f"At most {MAX_NOTE} characters.")
        parsed = self._cash(row, side) if side in CASH_SIDES else self._trade(row, side)
        if parsed is None or when is None or row.errors:
            return None
        parsed.trade_date, parsed.executed_at, parsed.note = when[0], when[1], note
        return parsed

    def _cash(self, row: _Row, side: Side) -> ParsedRow | None:
        for key in ("symbol",):
            if row.text(key):
                row.error(key, f"Leave empty for a {side.value} (it moves cash only).")
        for key in ("shares", "price", "fees"):
            raw = row.text(key)
            if raw and not (_ASCII_DECIMAL.fullmatch(raw) and Decimal(raw) == 0):
                row.error(key, f"Leave empty for a {side.value}; put the sum in amount.")
        if "amount" in row.values and row.text("amount"):
            amount = row.decimal("amount", places=2, maximum=MAX_MONEY)
        elif row.text("cash_delta"):
            amount = row.decimal("cash_delta", places=2, maximum=MAX_MONEY, signed=True)
        else:
            row.error("amount", f"Give the amount of the {side.value}.")
            return None
        if amount is None:
            return None
        return ParsedRow(row=row.line, side=side, trade_date=date.min, amount=amount)

    def _trade(self, row: _Row, side: Side) -> ParsedRow | None:
        symbol = row.text("symbol").upper()
        if not symbol:
            row.error("symbol", "Required for a trade.")
        shares = row.decimal("shares", places=4, maximum=MAX_SHARES)
        price = row.decimal("price", places=2, maximum=MAX_PRICE)
        fees = Decimal("0.00") if not row.text("fees") else row.decimal("fees", places=2, maximum=MAX_FEES, allow_zero=True)
        if row.text("amount"):
            row.error("amount", "Only for DEPOSIT and WITHDRAW; a trade's amount is shares x price.")
        if shares is None or price is None or fees is None or not symbol:
            return None
        return ParsedRow(row=row.line, side=side, trade_date=date.min, symbol=symbol, shares=shares, price=price, fees=fees)


def _parse_ib_date(raw: str) -> tuple[date, str] | None:
    """IB's configurable date formats we accept, and the time of day when there is one (for ordering)."""
    pieces = re.split(r"[;, ]+", raw.strip(), maxsplit=1)
    day_part = pieces[0]
    time_part = pieces[1] if len(pieces) > 1 else ""
    try:
        if re.fullmatch(r"[0-9]{8}", day_part):
            day = date(int(day_part[:4]), int(day_part[4:6]), int(day_part[6:]))
        elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day_part):
            day = date.fromisoformat(day_part)
        elif re.fullmatch(r"[0-9]{2}/[0-9]{2}/[0-9]{4}", day_part):
            day = date(int(day_part[6:]), int(day_part[:2]), int(day_part[3:5]))
        else:
            return None
    except ValueError:
        return None
    return day, re.sub(r"[^0-9]", "", time_part)


class _IbkrReader(_Reader):
    format = ImportFormat.IBKR_FLEX
    canonical = {
        "date": "tradedate",
        "side": "buy/sell",
        "symbol": "symbol",
        "shares": "quantity",
        "price": "tradeprice",
        "fees": "ibcommission",
        "amount": "quantity",
    }

    def missing(self, keys: set[str]) -> list[str]:
        names = {"symbol": "Symbol", "buy/sell": "Buy/Sell", "quantity": "Quantity", "tradeprice": "TradePrice"}
        lacking = [names[k] for k in sorted(_IBKR_REQUIRED - keys)]
        if not keys & {"tradedate", "datetime"}:
            lacking.append("TradeDate")
        return lacking

    def is_skipped_record(self, record: list[str]) -> bool:
        return _is_ib_record(record)

    def header_columns(self, header: list[str]) -> tuple[dict[int, str], list[str], dict[str, str]]:
        index: dict[int, str] = {}
        ignored: list[str] = []
        written: dict[str, str] = {}
        for i, name in enumerate(header):
            key = _header_key(name)
            if key == "date/time":
                key = "datetime"
            if key in _IBKR_KNOWN and key not in index.values():
                index[i] = key
                written[key] = name.strip()
            else:
                ignored.append(name.strip())
        return index, ignored, written

    def row(self, row: _Row) -> ParsedRow | str | None:
        level = row.text("levelofdetail").upper()
        if level and level != "EXECUTION":
            return f"LevelOfDetail {level[:20]} (only EXECUTION rows are trades)"
        asset = row.text("assetclass").upper()
        if asset and asset != "STK":
            row.error("assetclass", f"Only stocks (STK) can be imported, not {asset[:10]}.")
        currency = row.text("currencyprimary").upper()
        if currency not in ("", "USD"):
            row.error("currencyprimary", f"Only USD: the five symbols trade in US dollars (got {currency[:10]}).")
        symbol = row.text("symbol").upper()
        if not symbol:
            row.error("symbol", "Required.")
        when = None
        raw_day = row.text("tradedate")
        raw_time = row.text("datetime")
        if raw_day:
            when = _parse_ib_date(raw_day)
            if when is not None and raw_time:
                at = _parse_ib_date(raw_time)
                if at is not None and at[0] == when[0]:
                    when = (when[0], at[1])
        elif raw_time:
            when = _parse_ib_date(raw_time)
        if when is None:
            column = "tradedate" if raw_day or not raw_time else "datetime"
            row.error(column, "Use yyyyMMdd, yyyy-MM-dd or MM/dd/yyyy (dd/MM/yyyy is ambiguous: change it in the Flex query).")
        action = row.text("buy/sell").upper()
        if action not in ("BUY", "SELL"):
            row.error(
                "buy/sell", "Use BUY or SELL (cancelled trades, 'BUY (Ca.)', cannot be imported: remove them and their original)."
            )
        shares = row.decimal("quantity", places=4, maximum=MAX_SHARES, signed=True)
        price = row.decimal("tradeprice", places=2, maximum=MAX_PRICE, rounding=True)
        fees: Decimal | None = Decimal("0.00")
        if row.text("ibcommission"):
            fees = row.decimal("ibcommission", places=2, maximum=MAX_FEES, allow_zero=True, signed=True, rounding=True)
        indicator = row.text("open/closeindicator").upper()
        if ";" in indicator:
            row.error(
                "open/closeindicator",
                "A fill that closes one position and opens the other way (C;O) cannot be one entry: split it.",
            )
        if row.errors or when is None or shares is None or price is None or fees is None:
            return None
        if action == "SELL":
            side = Side.SHORT if indicator == "O" else Side.SELL
        else:
            side = Side.COVER if indicator == "C" else Side.BUY
        note = f"IB trade {row.text('tradeid')[:40]}" if row.text("tradeid") else ""
        return ParsedRow(
            row=row.line,
            side=side,
            trade_date=when[0],
            symbol=symbol,
            shares=shares,
            price=price,
            fees=fees,
            intraday=when[1],
            note=note,
        )


__all__ = [
    "CLOSE_TIME_UTC",
    "FORMAT_LABELS",
    "KEY_PREFIX",
    "MAX_BYTES",
    "MAX_ROWS",
    "TRADE_SIDES",
    "FileError",
    "ImportFormat",
    "ParseResult",
    "ParsedRow",
    "RowError",
    "detect_format",
    "parse_transactions_csv",
    "row_keys",
]
