"""Server-rendered portfolio pages: dashboard, trade and cash forms, position settings, history, CSV, setup.

Signed-in users only, and every object is looked up within ``request.user``'s rows, so another
investor's id answers 404. Views shape input and output; the rules live in ``portfolios.services``.
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import Iterator
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import apply_service_errors
from accounts.models import OnboardingStage, User
from accounts.selectors import onboarding_steps
from portfolios import dashboard, selectors, services
from portfolios.alerts import risk_alerts_for_user
from portfolios.core.ledger import q2
from portfolios.forms import (
    CashForm,
    HoldingFormSet,
    IdempotentForm,
    ImportConfirmForm,
    ImportUploadForm,
    PositionForm,
    SetupCashForm,
    TradeFilterForm,
    TradeForm,
    new_idempotency_key,
)
from portfolios.models import Position, RiskAlertStatus, TradeSource
from portfolios.selectors.rebalancing import rebalancing_panel
from portfolios.selectors.trade_checks import close_on, market_facts, trade_date_problem, trade_warnings
from portfolios.services.onboarding import Holding, onboarding_entries, portfolio_setup
from quantai.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from quantai.flags import Flag, all_flags

TRADES_PER_PAGE = 50
NONE = "\N{EN DASH}"
SORTABLE = {
    "symbol": lambda p: p.symbol,
    "type": lambda p: p.position_type,
    "shares": lambda p: p.shares,
    "avg": lambda p: p.avg_purchase_price,
    "price": lambda p: p.current_price or Decimal(0),
    "value": lambda p: p.market_value,
    "unrealized": lambda p: p.unrealized_pnl,
    "realized": lambda p: p.realized_pnl,
    "opened": lambda p: p.purchase_date or timezone.now().date(),
}
#: The history export; it is also a QuantAI import file (portfolios.core.importing reads these columns).
CSV_COLUMNS = [
    "id",
    "executed_at",
    "side",
    "symbol",
    "shares",
    "price",
    "fees",
    "cash_delta",
    "realized_pnl",
    "source",
    "note",
]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _sorted_positions(positions: list[Position], sort: str) -> tuple[list[Position], str]:
    key = sort.lstrip("-")
    if key not in SORTABLE:
        return positions, "symbol"
    return sorted(positions, key=SORTABLE[key], reverse=sort.startswith("-")), sort


def _sort_links(current: str) -> dict[str, dict[str, str]]:
    """For each column: the query value that sorts by it (flipping the direction when it is current) and an arrow."""
    links = {}
    for key in SORTABLE:
        if current == key:
            links[key] = {"param": f"-{key}", "arrow": "▲", "aria": "ascending"}
        elif current == f"-{key}":
            links[key] = {"param": key, "arrow": "▼", "aria": "descending"}
        else:
            links[key] = {"param": key, "arrow": "", "aria": "none"}
    return links


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    # One cached read of every flag, for the view and the template (the context processor's lazy copy stays unread).
    flags = all_flags()
    summary = selectors.portfolio_summary(user=user)
    # The stored snapshot's JSON: the chart takes its strings as they are; only the figures become Decimals.
    data = selectors.portfolio_analytics_data(user=user)
    report = selectors.report_from_data(data, with_series=False)
    positions, sort = _sorted_positions(summary.positions, request.GET.get("sort", "symbol"))
    day_pnl = day_pnl_date = None
    # The last two sessions with closes: an entry recorded after the last close adds a point that is not a session.
    as_of_day = summary.prices_as_of or report.end
    as_of = as_of_day.isoformat() if as_of_day else None
    sessions = [p for p in data["series"] if as_of is None or p["date"] <= as_of]
    if len(sessions) >= 2:
        last, before = sessions[-1], sessions[-2]
        day_pnl, day_pnl_date = Decimal(last["pnl"]) - Decimal(before["pnl"]), date.fromisoformat(last["date"])
    chart = {
        "allocation": [
            {"label": p.symbol, "value": str(abs(p.market_value)), "short": p.position_type == "SHORT"} for p in positions
        ]
        + ([{"label": "Cash", "value": str(summary.totals.cash), "short": False}] if summary.totals.cash > 0 else []),
        "series": [
            {"date": p["date"], "equity": p["equity"], "net_deposits": p["net_deposits"], "spy": p["benchmark_index"]}
            for p in data["series"]
        ],
    }
    context = {
        "flags": flags,
        "summary": summary,
        "totals": summary.totals,
        "report": report,
        "rows": dashboard.position_rows(positions, summary.totals.equity),
        "trade_url": reverse("portfolios:trade"),
        "sort": sort,
        "sort_links": _sort_links(sort),
        "day_pnl": day_pnl,
        "day_pnl_date": day_pnl_date,
        "chart": chart,
        "risk_alerts": risk_alerts_for_user(user=user, status=RiskAlertStatus.OPEN) if flags[Flag.RISK_ALERTS] else [],
        "recent_trades": dashboard.recent_lines(selectors.trades_for_user(user=user)[:5]),
        "metrics": _metrics(report),
    }
    if flags[Flag.PORTFOLIO_REBALANCING]:  # the optimiser runs only when the feature is on
        context["rebalancing"] = rebalancing_panel(user=user)
    return render(request, "portfolios/dashboard.html", context)


def _pct(ratio: Decimal | None) -> str:
    return NONE if ratio is None else f"{ratio * 100:+.2f} %"


def _metrics(report: selectors.AnalyticsReport) -> list[tuple[str, str]]:
    """The analytics figures as a person reads them (percentages, dollars)."""
    return [
        ("Time-weighted return", _pct(report.twr)),
        ("SPY, same period", _pct(report.benchmark_return)),
        ("Equal weight of the five, held", _pct(report.equal_weight_return)),
        ("Money-weighted return", _pct(report.mwr_period)),
        ("Volatility (annualised)", _pct(report.volatility_annualized).lstrip("+")),
        ("Beta to SPY", NONE if report.beta is None else f"{report.beta:.2f}"),
        ("1-day VaR 95 %", NONE if report.var_95_amount is None else f"{report.var_95_amount:,.2f} USD"),
        ("Max drawdown", _pct(report.max_drawdown).lstrip("+")),
    ]


def _fresh_key_form(form_class: type[IdempotentForm], request: HttpRequest, exc: Conflict, **kwargs: Any) -> Any:
    """The same input with a new key, and why: the old key already recorded a different request."""
    data = request.POST.copy()
    data["idempotency_key"] = new_idempotency_key()
    form = form_class(data, **kwargs)
    form.is_valid()
    detail = " ".join(" ".join(m) for m in exc.fields.values())
    message = f"This form was already submitted for another entry ({detail}). Check the history; submit again to record this one."
    form.add_error(None, message)
    return form


def _latest_price(symbol: str) -> Decimal | None:
    quote = selectors.latest_closes([symbol]).get(symbol)
    return q2(quote.close) if quote else None


def _checked_price(symbol: str, day: date | None, price: Decimal | None) -> tuple[Decimal, list[str]]:
    """The trade's price (given, that day's close, or the latest close) and what looks wrong with the date and price.

    Raises ``ValidationFailed`` for a date before the symbol's first bar or when no price is known.
    """
    on = day or timezone.now().astimezone(UTC).date()
    facts = market_facts([(symbol, on)])
    if day is not None:
        problem = trade_date_problem(facts, symbol=symbol, day=day)
        if problem:
            raise ValidationFailed(problem, fields={"trade_date": [problem]})
    if price is None:
        price = close_on(symbol, day) if day is not None else _latest_price(symbol)
        if price is None:
            message = (
                f"No close is stored for {symbol} on {day:%d %b %Y}; enter the price."
                if day
                else (f"No price is known for {symbol} yet; enter one.")
            )
            raise ValidationFailed(message, fields={"price": [message]})
    return price, trade_warnings(facts, symbol=symbol, day=on, price=price, check_session=day is not None)


@login_required
@require_http_methods(["GET", "POST"])
def trade_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    allow_short = services.short_selling_allowed(user)
    initial = {"symbol": request.GET.get("symbol", ""), "side": request.GET.get("side", "BUY")}
    form = TradeForm(request.POST or None, allow_short=allow_short, initial=initial)
    warnings: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        day: date | None = data["trade_date"]
        try:
            price, warnings = _checked_price(data["symbol"], day, data["price"])
            if warnings and not data["confirm_price"]:
                raise ValidationFailed(" ".join(warnings))  # shown with the confirmation box; nothing recorded
            trade = services.trade_execute(
                user=user,
                symbol=data["symbol"],
                side=data["side"],
                shares=data["shares"],
                price=price,
                fees=data["fees"] if data["fees"] is not None else Decimal("0"),
                executed_on=day,
                source=TradeSource.MANUAL,
                idempotency_key=data["idempotency_key"],
            )
        except Conflict as exc:
            form = _fresh_key_form(TradeForm, request, exc, allow_short=allow_short)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            verb = "was already recorded" if trade.replayed else "recorded"
            shares = f"{trade.shares.normalize():f}"
            fees = f" plus {trade.fees} fees" if trade.fees else ""
            when = f" on {trade.executed_at.astimezone(UTC).date():%d %b %Y}" if day else ""
            messages.success(
                request, f"{trade.get_side_display()} {shares} {trade.symbol} at {trade.price} USD{fees}{when} {verb}."
            )
            return redirect("portfolios:dashboard")
    prices = {s: str(q.close) for s, q in selectors.latest_closes().items()}
    context = {
        "form": form,
        "prices": prices,
        "cash": selectors.portfolio_summary(user=user).totals,
        "allow_short": allow_short,
        "needs_confirmation": bool(warnings) or bool(form.is_bound and form.data.get("confirm_price")),
    }
    return render(request, "portfolios/trade.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def cash_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = CashForm(request.POST or None, initial={"action": request.GET.get("action", "deposit")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        write = services.cash_deposit if data["action"] == "deposit" else services.cash_withdraw
        try:
            entry = write(user=user, amount=data["amount"], idempotency_key=data["idempotency_key"])
        except Conflict as exc:
            form = _fresh_key_form(CashForm, request, exc)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            verb = "Deposited" if data["action"] == "deposit" else "Withdrew"
            suffix = " (already recorded)" if entry.replayed else ""
            messages.success(request, f"{verb} {abs(entry.cash_delta)} USD{suffix}.")
            return redirect("portfolios:dashboard")
    context = {"form": form, "totals": selectors.portfolio_summary(user=user).totals}
    return render(request, "portfolios/cash.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def position_edit_view(request: HttpRequest, position_id: str) -> HttpResponse:
    user = _user(request)
    if not position_id.isdigit():
        raise Http404("No such position.")
    position = get_object_or_404(Position, pk=int(position_id), user=user)
    initial = {k: getattr(position, k) for k in ("stop_loss", "take_profit", "notes", "auto_exit")}
    form = PositionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.position_update(user=user, position_id=position.pk, **form.cleaned_data)
        except NotFound:
            raise Http404("No such position.") from None
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the settings of your {position.symbol} position.")
            return redirect("portfolios:dashboard")
    return render(request, "portfolios/position_edit.html", {"form": form, "position": position})


@login_required
@require_GET
def trades_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters = TradeFilterForm(request.GET or None)
    wanted = filters.filters()
    page = Paginator(selectors.trades_for_user(user=user, **wanted), TRADES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filters": filters, "page": page, "query": query.urlencode(), "filtered": bool(wanted)}
    return render(request, "portfolios/trades.html", context)


class _Echo:
    """A file-like object whose ``write`` returns the line, for streaming ``csv.writer`` output."""

    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def trades_csv_view(request: HttpRequest) -> StreamingHttpResponse | HttpResponse:
    user = _user(request)
    filters = TradeFilterForm(request.GET or None)
    if request.GET and not filters.is_valid():
        return HttpResponse("Invalid filters: " + filters.errors.as_text(), status=400, content_type="text/plain")
    trades = selectors.trades_for_user(user=user, **filters.filters())
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for t in trades.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    t.pk,
                    t.executed_at.isoformat(),
                    t.side,
                    t.symbol,
                    t.shares,
                    t.price,
                    t.fees,
                    t.cash_delta,
                    t.realized_pnl,
                    t.source,
                    t.note,
                ]
            )

    filename = f"quantai-trades-{user.username}-{timezone.now():%Y%m%d}.csv"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Onboarding: portfolio setup ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def setup_view(request: HttpRequest) -> HttpResponse:
    """Onboarding's "portfolio setup": starting cash and/or existing holdings, recorded in the ledger.

    Also served at the onboarding wizard's address (``onboarding_portfolio``, routed by :mod:`insights.urls`).
    """
    user = _user(request)
    if user.onboarding_stage == OnboardingStage.REGISTERED:
        messages.info(request, "Answer the risk questionnaire first.")
        return redirect("onboarding_questionnaire")
    recorded = onboarding_entries(user=user)
    locked = user.is_onboarded
    initial = {"starting_cash": user.starting_cash} if user.starting_cash is not None else None
    cash_form = SetupCashForm(request.POST or None, initial=initial)
    # A post without the holdings table (the accounts step's old form, a script) means "cash only".
    with_holdings = request.method == "POST" and "holdings-TOTAL_FORMS" in request.POST
    holdings = HoldingFormSet(request.POST if with_holdings else None, prefix="holdings")
    if request.method == "POST" and not locked and cash_form.is_valid() and (not with_holdings or holdings.is_valid()):
        rows = [f for f in holdings.forms if f.is_filled] if with_holdings else []
        try:
            portfolio_setup(
                user=user,
                cash=cash_form.cleaned_data["starting_cash"],
                holdings=[
                    Holding(
                        symbol=f.cleaned_data["symbol"],
                        shares=f.cleaned_data["shares"],
                        avg_price=f.cleaned_data["avg_price"],
                        purchase_date=f.cleaned_data["purchase_date"],
                    )
                    for f in rows
                ],
                request=request,
            )
        except ApplicationError as exc:
            _setup_errors(exc, cash_form, rows)
        else:
            return redirect("onboarding_finish")
    context = {
        "form": cash_form,
        "holdings": holdings,
        "recorded": [t for t in recorded if not t.is_cash_entry or t.source == TradeSource.ONBOARDING],
        "steps": onboarding_steps(user),
        "locked": locked,
        "hide_next_step": True,
    }
    return render(request, "portfolios/setup.html", context)


def _setup_errors(exc: ApplicationError, cash_form: SetupCashForm, rows: list[Any]) -> None:
    """Put the setup service's errors on the cash field, the holding row they name, or the form."""
    if not exc.fields:
        cash_form.add_error(None, exc.message)
        return
    for name, msgs in exc.fields.items():
        parts = name.split(".")
        for message in msgs:
            if parts[0] == "holdings" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
                form = rows[int(parts[1])]
                form.add_error(parts[2] if parts[2] in form.fields else None, message)
            elif name == "cash":
                cash_form.add_error("starting_cash", message)
            else:
                cash_form.add_error(None, message)


# --- Import transactions from a CSV file --------------------------------------------------------


def _import_context(user: User, **extra: Any) -> dict[str, Any]:
    from portfolios.core.importing import MAX_BYTES, MAX_ROWS

    last = selectors.trades_for_user(user=user).first()
    return {"max_bytes": MAX_BYTES, "max_rows": MAX_ROWS, "last_entry": last, **extra}


@login_required
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    """Import transactions: upload -> preview (per-row errors, nothing written) -> confirm -> all rows or none."""
    from portfolios.core.importing import MAX_BYTES
    from portfolios.services.imports import ImportRefused, transactions_import, transactions_import_preview

    user = _user(request)
    upload = ImportUploadForm()
    if request.method == "GET":
        return render(request, "portfolios/import.html", _import_context(user, upload=upload))

    if request.POST.get("step") == "confirm":
        confirm = ImportConfirmForm(request.POST)
        content = _confirmed_content(confirm, MAX_BYTES)
        if content is None:
            messages.error(request, "The previewed file did not come back intact; upload it again.")
            return redirect("portfolios:import")
        fmt = None if confirm.cleaned_data["format"] == "auto" else confirm.cleaned_data["format"]
        try:
            result = transactions_import(user=user, content=content, fmt=fmt, expected_sha256=confirm.cleaned_data["sha256"])
        except ImportRefused as exc:
            context = _import_context(user, upload=upload, preview=exc.preview, refused=exc.message)
            return render(request, "portfolios/import.html", context, status=400)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("portfolios:import")
        if result.replayed:
            messages.info(request, f"Nothing to import: all {result.preview.duplicates} transactions were already imported.")
        else:
            skipped = f" ({result.preview.duplicates} already imported, skipped)" if result.preview.duplicates else ""
            messages.success(request, f"Imported {len(result.created)} transactions{skipped}.")
        return redirect("portfolios:trades")

    upload = ImportUploadForm(request.POST, request.FILES)
    preview = None
    if upload.is_valid():
        file = upload.cleaned_data["file"]
        if file.size > MAX_BYTES:
            upload.add_error("file", f"The file is {file.size:,} bytes; the limit is {MAX_BYTES:,} bytes.")
        else:
            content = file.read()
            fmt = upload.cleaned_data["format"]
            try:
                preview = transactions_import_preview(user=user, content=content, fmt=None if fmt == "auto" else fmt)
            except ApplicationError as exc:
                apply_service_errors(upload, exc)
            else:
                confirm = ImportConfirmForm(
                    initial={"content": base64.b64encode(content).decode("ascii"), "sha256": preview.sha256, "format": fmt}
                )
                context = _import_context(user, upload=ImportUploadForm(), preview=preview, confirm=confirm)
                return render(request, "portfolios/import.html", context)
    return render(request, "portfolios/import.html", _import_context(user, upload=upload, preview=preview), status=400)


def _confirmed_content(form: ImportConfirmForm, max_bytes: int) -> bytes | None:
    """The previewed file's bytes (base64 in the page, so the browser cannot rewrite its line ends)."""
    if not form.is_valid() or len(form.cleaned_data["content"]) > (max_bytes * 4) // 3 + 4:
        return None
    try:
        return base64.b64decode(form.cleaned_data["content"], validate=True)
    except (binascii.Error, ValueError):
        return None
