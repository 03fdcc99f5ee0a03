"""Importing transactions from a CSV file: a preview with per-row errors, then all rows in one transaction or none.

The file is read by :mod:`portfolios.core.importing` (formats, keys). Here each row is checked the way the
trade service checks a trade, in the file's chronological order (by date, then the file's order):
the same :func:`portfolios.core.ledger.entry_apply`, so an oversell or a cash shortfall is an error on the
row where it happens, and the preview's balances are what the import writes.

Rules beyond the ledger's own:

- The ledger is kept in time order, so a row may not be dated before the user's last entry (import
  history into a new portfolio first, or export only what is newer).
- Dates: not in the future, not before the symbol's first stored bar; a day without a session or a
  price far outside the day's range is a warning (:mod:`portfolios.selectors.trade_checks`).
- Idempotent: each row's key (:func:`portfolios.core.importing.row_keys`) is stored as the entry's
  idempotency key. A row whose key is already in the user's ledger is "already imported" and skipped;
  importing the same file twice writes nothing the second time. Two imports of one file at the same
  time serialise on the per-user lock; the unique key constraint is the last word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import User
from market.symbols import TRADABLE
from portfolios.core.importing import (
    FORMAT_LABELS,
    FileError,
    ImportFormat,
    ParsedRow,
    ParseResult,
    RowError,
    parse_transactions_csv,
)
from portfolios.core.ledger import CASH_SIDES, TRADE_SIDES, LedgerEntry, LedgerRuleError, LedgerState, entry_apply
from portfolios.models import CashAccount, Position, Trade, TradeSource
from portfolios.selectors import position_state_or_empty
from portfolios.selectors.trade_checks import MarketFacts, market_facts, trade_date_problem, trade_warnings
from portfolios.services._common import (
    FUTURE_TOLERANCE,
    cash_account_for_update,
    executed_at_for_day,
    short_selling_allowed,
    user_totals_refresh,
)
from portfolios.services.snapshots import portfolio_snapshot_schedule
from portfolios.services.trades import _DEADLOCK_RETRIES, _is_deadlock, position_row_store
from quantai.errors import Conflict, RuleViolation, ValidationFailed


class RowStatus:
    NEW = "new"
    DUPLICATE = "already_imported"
    ERROR = "error"


@dataclass
class ImportRow:
    """One transaction of the file as the preview shows it."""

    row: int
    status: str
    key: str = ""
    trade_date: date | None = None
    executed_at: datetime | None = None
    side: str = ""
    symbol: str = ""
    shares: Decimal | None = None
    price: Decimal | None = None
    fees: Decimal | None = None
    amount: Decimal | None = None
    note: str = ""
    cash_after: Decimal | None = None
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportPreview:
    format: ImportFormat
    sha256: str
    rows: list[ImportRow]
    errors: list[RowError]
    ignored_columns: list[str]
    skipped: list[tuple[int, str]]
    total_rows: int
    cash_before: Decimal
    cash_after: Decimal
    #: symbol -> (direction, shares) after the import, for the symbols it touches
    positions_after: dict[str, tuple[str, Decimal]]

    @property
    def format_label(self) -> str:
        return FORMAT_LABELS[self.format]

    @property
    def new(self) -> int:
        return sum(r.status == RowStatus.NEW for r in self.rows)

    @property
    def duplicates(self) -> int:
        return sum(r.status == RowStatus.DUPLICATE for r in self.rows)

    @property
    def warnings(self) -> int:
        return sum(bool(r.warnings) for r in self.rows)

    @property
    def can_import(self) -> bool:
        return not self.errors and self.new > 0

    def error_fields(self) -> dict[str, list[str]]:
        """The errors as the API's ``fields``: ``rows.<row>.<column>``."""
        fields: dict[str, list[str]] = {}
        for e in self.errors:
            fields.setdefault(f"rows.{e.row}.{e.column}", []).append(e.message)
        return fields


@dataclass
class ImportResult:
    preview: ImportPreview
    created: list[Trade]

    @property
    def replayed(self) -> bool:
        """Nothing was new: every row had been imported before."""
        return not self.created


class ImportRefused(RuleViolation):
    """Rows have errors, so nothing was written (422). ``preview`` shows every row and its errors."""

    code = "import_invalid"

    def __init__(self, preview: ImportPreview) -> None:
        count = len({e.row for e in preview.errors})
        noun = "row has" if count == 1 else "rows have"
        super().__init__(f"{count} {noun} errors, so nothing was imported.", fields=preview.error_fields())
        self.preview = preview


def _parse(content: bytes, fmt: str | None) -> ParseResult:
    try:
        return parse_transactions_csv(content, fmt=fmt or None)
    except FileError as exc:
        raise RuleViolation(str(exc), fields={"file": [str(exc)]}, code="import_file_invalid") from None


@dataclass
class _Plan:
    preview: ImportPreview
    writes: list[tuple[ParsedRow, LedgerEntry, datetime, Decimal, Decimal]]  # row, entry, time, cash delta, realized
    state: LedgerState


def _simulate(
    *,
    parsed: ParseResult,
    state: LedgerState,
    last_at: datetime | None,
    existing_keys: set[str],
    facts: MarketFacts,
    allow_short: bool,
    now: datetime,
) -> _Plan:
    today = now.astimezone(UTC).date()
    columns = parsed.columns
    rows: list[ImportRow] = []
    errors: list[RowError] = list(parsed.errors)
    writes: list[tuple[ParsedRow, LedgerEntry, datetime, Decimal, Decimal]] = []
    cash_before = state.cash
    touched: set[str] = set()
    for bad in sorted({e.row for e in parsed.errors}):
        rows.append(ImportRow(row=bad, status=RowStatus.ERROR, errors=[e for e in parsed.errors if e.row == bad]))

    for p in sorted(parsed.rows, key=ParsedRow.sort_key):
        view = ImportRow(
            row=p.row,
            status=RowStatus.NEW,
            key=p.key,
            trade_date=p.trade_date,
            side=p.side.value,
            symbol=p.symbol,
            shares=p.shares if p.side in TRADE_SIDES else None,
            price=p.price if p.side in TRADE_SIDES else None,
            fees=p.fees if p.side in TRADE_SIDES else None,
            amount=p.amount if p.side in CASH_SIDES else None,
            note=p.note,
            warnings=list(p.warnings),
        )
        rows.append(view)
        if p.key in existing_keys:
            view.status = RowStatus.DUPLICATE
            continue

        def error(column: str, message: str, view: ImportRow = view, row: int = p.row) -> None:
            problem = RowError(row, columns.get(column, column), message)
            view.errors.append(problem)
            view.status = RowStatus.ERROR
            errors.append(problem)

        if p.side in TRADE_SIDES and p.symbol not in TRADABLE:
            error("symbol", f"{p.symbol[:12]} is not one of the five ({', '.join(TRADABLE)}).")
        if p.trade_date > today or (p.executed_at is not None and p.executed_at > now + FUTURE_TOLERANCE):
            error("date", "A transaction cannot be dated in the future.")
        elif p.side in TRADE_SIDES and p.symbol in TRADABLE:
            problem = trade_date_problem(facts, symbol=p.symbol, day=p.trade_date)
            if problem:
                error("date", problem)
        at = p.executed_at or executed_at_for_day(p.trade_date, now=now, last_at=last_at)
        if last_at is not None and at < last_at:
            error(
                "date",
                f"Before your last ledger entry ({last_at.astimezone(UTC).date().isoformat()}): "
                "the ledger is kept in time order.",
            )
        if view.errors:
            continue
        if p.side in TRADE_SIDES:
            view.warnings.extend(trade_warnings(facts, symbol=p.symbol, day=p.trade_date, price=p.price))
        entry = LedgerEntry(
            side=p.side,
            symbol=p.symbol if p.side in TRADE_SIDES else "",
            shares=p.shares if p.side in TRADE_SIDES else Decimal("0"),
            price=p.price if p.side in TRADE_SIDES else Decimal("0"),
            fees=p.fees if p.side in TRADE_SIDES else Decimal("0"),
            amount=p.amount if p.side in CASH_SIDES else Decimal("0"),
            executed_on=at.astimezone(UTC).date(),
        )
        try:
            state, effect = entry_apply(state, entry, allow_short=allow_short)
        except LedgerRuleError as exc:
            error({"non_field_errors": "side"}.get(exc.field, exc.field), exc.message)
            continue
        view.executed_at, view.cash_after = at, state.cash
        last_at = at
        if p.side in TRADE_SIDES:
            touched.add(p.symbol)
        writes.append((p, entry, at, effect.cash_delta, effect.realized_pnl))

    rows.sort(key=lambda r: r.row)
    errors.sort(key=lambda e: e.row)
    preview = ImportPreview(
        format=parsed.format,
        sha256=parsed.sha256,
        rows=rows,
        errors=errors,
        ignored_columns=parsed.ignored_columns,
        skipped=parsed.skipped,
        total_rows=parsed.total_rows,
        cash_before=cash_before,
        cash_after=state.cash,
        positions_after={s: (state.positions[s].direction.value, state.positions[s].shares) for s in sorted(touched)},
    )
    return _Plan(preview=preview, writes=writes, state=state)


def _facts_for(parsed: ParseResult) -> MarketFacts:
    return market_facts((p.symbol, p.trade_date) for p in parsed.rows if p.side in TRADE_SIDES and p.symbol in TRADABLE)


def _existing_keys(user: User, parsed: ParseResult) -> set[str]:
    keys = [p.key for p in parsed.rows]
    return set(Trade.objects.filter(user=user, idempotency_key__in=keys).values_list("idempotency_key", flat=True))


def _last_at(user: User) -> datetime | None:
    return Trade.objects.filter(user=user).order_by("-id").values_list("executed_at", flat=True).first()


def transactions_import_preview(*, user: User, content: bytes, fmt: str | None = None) -> ImportPreview:
    """What importing ``content`` would do now: every row with its status, errors and warnings. Writes nothing.

    Raises ``ValidationFailed`` (field ``file``) when the file as a whole cannot be read.
    """
    parsed = _parse(content, fmt)
    cash_row = CashAccount.objects.filter(user=user).first()
    positions = {p.symbol: position_state_or_empty(p, p.symbol) for p in Position.objects.filter(user=user)}
    state = LedgerState(
        cash=cash_row.balance if cash_row else Decimal("0.00"),
        net_deposits=cash_row.net_deposits if cash_row else Decimal("0.00"),
        positions=positions,
    )
    return _simulate(
        parsed=parsed,
        state=state,
        last_at=_last_at(user),
        existing_keys=_existing_keys(user, parsed),
        facts=_facts_for(parsed),
        allow_short=short_selling_allowed(user),
        now=timezone.now(),
    ).preview


def transactions_import(
    *, user: User, content: bytes, fmt: str | None = None, expected_sha256: str | None = None
) -> ImportResult:
    """Import every new row of ``content`` into the user's ledger, in one transaction, or nothing.

    The rows are checked again under the per-user lock (the ledger may have changed since the
    preview). Raises :class:`ImportRefused` (422, ``rows.<row>.<column>`` fields, with the preview)
    when any row has an error; ``RuleViolation`` (field ``file``) for an unreadable file, ``ValidationFailed`` when
    ``expected_sha256`` (the previewed file's hash) does not match. A file whose rows were all
    imported before writes nothing and returns an empty ``created``.
    """
    if expected_sha256 is not None and not isinstance(expected_sha256, str):
        raise ValidationFailed("Preview the file again.", fields={"sha256": ["Preview the file again."]})
    parsed = _parse(content, fmt)
    if expected_sha256 and expected_sha256 != parsed.sha256:
        message = "This is not the file that was previewed; preview it again."
        raise ValidationFailed(message, fields={"sha256": [message]})
    facts = _facts_for(parsed)  # prices, read before the lock: they do not depend on the ledger
    allow_short = short_selling_allowed(user)
    # A first ledger write creates the cash row, and creating it can deadlock on MySQL (gap locks): retry then,
    # as the trade service does. Inside a caller's transaction there is nothing to retry.
    attempts = 1 if connection.in_atomic_block else _DEADLOCK_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return _import_locked(user=user, parsed=parsed, facts=facts, allow_short=allow_short)
        except IntegrityError:
            # Only reachable if a writer skipped the per-user lock: the unique key refused a duplicate row.
            raise Conflict(
                "Another import of these rows was recorded at the same moment; preview the file again.",
                code="import_conflict",
            ) from None
        except OperationalError as exc:
            if not _is_deadlock(exc) or attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _import_locked(*, user: User, parsed: ParseResult, facts: MarketFacts, allow_short: bool) -> ImportResult:
    cash = cash_account_for_update(user)  # the per-user lock first, as every ledger writer takes it
    rows = {p.symbol: p for p in Position.objects.select_for_update().filter(user=user).order_by("symbol")}
    state = LedgerState(
        cash=cash.balance,
        net_deposits=cash.net_deposits,
        positions={symbol: position_state_or_empty(row, symbol) for symbol, row in rows.items()},
    )
    now = timezone.now()
    plan = _simulate(
        parsed=parsed,
        state=state,
        last_at=_last_at(user),
        existing_keys=_existing_keys(user, parsed),
        facts=facts,
        allow_short=allow_short,
        now=now,
    )
    if plan.preview.errors:
        raise ImportRefused(plan.preview)
    if not plan.writes:
        return ImportResult(preview=plan.preview, created=[])

    created = [
        Trade.objects.create(
            user=user,
            symbol=entry.symbol,
            side=entry.side.value,
            shares=entry.shares,
            price=entry.price,
            fees=entry.fees,
            cash_delta=cash_delta,
            realized_pnl=realized,
            executed_at=at,
            source=TradeSource.IMPORT,
            idempotency_key=row.key,
            note=row.note,
        )
        for row, entry, at, cash_delta, realized in plan.writes
    ]
    cash.balance = plan.state.cash
    cash.net_deposits = plan.state.net_deposits
    cash.save(update_fields=["balance", "net_deposits", "updated_at"])
    last_price = {entry.symbol: entry.price for _, entry, _, _, _ in plan.writes if entry.side in TRADE_SIDES}
    for symbol, price in sorted(last_price.items()):
        position_row_store(user=user, row=rows.get(symbol), target=plan.state.positions[symbol], fallback_price=price, now=now)
    user_totals_refresh(user=user, cash=cash)
    portfolio_snapshot_schedule(user_id=user.pk)  # once for the whole file
    return ImportResult(preview=plan.preview, created=created)
