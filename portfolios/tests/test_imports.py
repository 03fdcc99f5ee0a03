"""Importing transactions from CSV: the formats, the preview, all-or-nothing, idempotent re-import, the page and the API."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from portfolios.core.importing import FileError, ImportFormat, parse_transactions_csv
from portfolios.factories import InvestorFactory, funded_investor, price_bar
from portfolios.models import CashAccount, Position, Trade, TradeSource
from portfolios.selectors import ledger_verify
from portfolios.services.imports import ImportRefused, transactions_import, transactions_import_preview
from portfolios.tests.import_files import HISTORY
from quantai.errors import RuleViolation, ValidationFailed

D = Decimal

IB_HEADER = (
    '"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","TradeDate","DateTime","Quantity","TradePrice",'
    '"IBCommission","Buy/Sell","Open/CloseIndicator","LevelOfDetail","TradeID"'
)


def ib_file(*rows: str) -> bytes:
    return ("\n".join([IB_HEADER, *rows]) + "\n").encode()


# --- The formats (pure) -------------------------------------------------------------------------


def test_the_quantai_format_reads_trades_and_cash_rows_and_names_ignored_columns():
    content = HISTORY.replace(b"amount,note", b"amount,note,broker").replace(b"Opening cash", b"Opening cash,x")
    content = content.replace(b"first lot\n", b"first lot,\n").replace(b"trim\n", b"trim,\n").replace(b"0,,\n", b"0,,,\n")
    result = parse_transactions_csv(content)
    assert result.format == ImportFormat.QUANTAI
    assert result.errors == []
    assert result.ignored_columns == ["broker"]
    deposit, buy, sell, nvda = result.rows
    assert (deposit.side, deposit.amount, deposit.note) == ("DEPOSIT", D("10000.00"), "Opening cash")
    assert (buy.symbol, buy.shares, buy.price, buy.fees, buy.trade_date) == (
        "AAPL",
        D("10"),
        D("100.00"),
        D("1.00"),
        date(2024, 3, 4),
    )
    assert sell.side == "SELL" and nvda.shares == D("2.5")


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("1_000", "shares"),  # Decimal() would read 1000
        ("\uff11\uff10", "shares"),  # full-width digits
        ("1e3", "shares"),
        ("10.12345", "shares"),  # more places than the ledger keeps
        ("-3", "shares"),
    ],
)
def test_numbers_must_be_plain_ascii_decimals_and_errors_name_row_and_column(cell, column):
    content = f"date,symbol,side,shares,price\n2024-03-04,AAPL,BUY,{cell},100.00\n".encode()
    result = parse_transactions_csv(content)
    assert result.rows == []
    assert [(e.row, e.column) for e in result.errors] == [(2, column)]


def test_a_price_with_more_than_two_decimals_is_refused_in_the_quantai_format():
    result = parse_transactions_csv(b"date,symbol,side,shares,price\n2024-03-04,AAPL,BUY,1,100.005\n")
    assert [(e.row, e.column) for e in result.errors] == [(2, "price")]


def test_interactive_brokers_flex_trades_map_sides_fees_and_skip_summaries():
    content = (
        b"BOF,U1,Trades,1,20240301,20240331\n"
        + ib_file(
            '"U1","USD","STK","NVDA","20240315","20240315;093012","10","878.3655","-1.0012","BUY","O","EXECUTION","111"',
            '"U1","USD","STK","NVDA","20240318","20240318;100000","-4","885","-1","SELL","C","EXECUTION","112"',
            '"U1","USD","STK","NVDA","20240318","","-4","885","-1","SELL","C","ORDER",""',
            '"U1","USD","STK","META","03/19/2024","","-2","500","-1","SELL","O","EXECUTION","113"',
            '"U1","USD","STK","META","2024-03-20","","2","490","-1","BUY","C","EXECUTION","114"',
            IB_HEADER,
        )
        + b"EOF,U1\n"
    )
    result = parse_transactions_csv(content)
    assert result.format == ImportFormat.IBKR_FLEX
    assert result.errors == []
    sides = [(r.side.value, r.symbol, r.shares, r.price, r.fees, r.trade_date) for r in result.rows]
    assert sides == [
        ("BUY", "NVDA", D("10.0000"), D("878.37"), D("1.00"), date(2024, 3, 15)),
        ("SELL", "NVDA", D("4.0000"), D("885.00"), D("1.00"), date(2024, 3, 18)),
        ("SHORT", "META", D("2.0000"), D("500.00"), D("1.00"), date(2024, 3, 19)),
        ("COVER", "META", D("2.0000"), D("490.00"), D("1.00"), date(2024, 3, 20)),
    ]
    assert any("rounded to 878.37" in w for w in result.rows[0].warnings)
    assert result.rows[0].note == "IB trade 111"
    reasons = [why for _, why in result.skipped]
    assert any("ORDER" in why for why in reasons) and "repeated header row" in reasons
    assert any(why.startswith("BOF") for why in reasons) and any(why.startswith("EOF") for why in reasons)


def test_interactive_brokers_rows_of_other_assets_or_currencies_are_errors_on_their_column():
    result = parse_transactions_csv(
        ib_file(
            '"U1","EUR","STK","AAPL","20240315","","1","100","0","BUY","O","EXECUTION",""',
            '"U1","USD","OPT","AAPL","20240315","","1","1","0","BUY","O","EXECUTION",""',
            '"U1","USD","STK","AAPL","15/03/2024","","1","100","0","BUY","O","EXECUTION",""',
        )
    )
    assert [(e.row, e.column) for e in result.errors] == [(2, "CurrencyPrimary"), (3, "AssetClass"), (4, "TradeDate")]


def test_identical_rows_get_distinct_keys_and_the_same_trade_has_one_key_in_both_formats():
    quantai = parse_transactions_csv(
        b"date,symbol,side,shares,price,fees,note\n2024-03-15,NVDA,BUY,10,878.37,1.00,a\n2024-03-15,NVDA,BUY,10,878.37,1.00,b\n"
    )
    ib = parse_transactions_csv(
        ib_file(
            '"U1","USD","STK","NVDA","20240315","","10","878.37","-1","BUY","O","EXECUTION",""',
            '"U1","USD","STK","NVDA","20240315","","10","878.37","-1","BUY","O","EXECUTION",""',
        )
    )
    first, second = quantai.rows
    assert first.key != second.key  # two fills of the same size and price are two trades
    assert [r.key for r in ib.rows] == [first.key, second.key]  # the note and the format are not part of the key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00d", "UTF-8"),
        (b"when,what\n1,2\n", "not recognised"),
        (b"date,side\n", "no transactions"),
        (b"date,side\n" + b"2024-03-01,DEPOSIT\n" * 1001, "more than 1,000 rows"),
        (b"date,side,note\n" + b"2024-03-01,DEPOSIT," + b"x" * 500_000 + b"\n", "limit"),
    ],
)
def test_files_that_cannot_be_read_are_refused_as_a_whole(content, message):
    with pytest.raises(FileError, match=message):
        parse_transactions_csv(content)


# --- The service ---------------------------------------------------------------------------------


@pytest.fixture
def newcomer(db):
    return InvestorFactory(username="nora")


def _ledger(user):
    return list(Trade.objects.filter(user=user).order_by("id").values_list("side", "symbol", "shares", "fees", "source"))


def test_the_preview_writes_nothing_and_shows_the_balances_the_import_would_leave(newcomer):
    preview = transactions_import_preview(user=newcomer, content=HISTORY)
    assert Trade.objects.filter(user=newcomer).count() == 0
    assert [r.status for r in preview.rows] == ["new"] * 4
    assert preview.can_import and preview.errors == []
    # 10000 - (1000 + 1) + (440 - 2) - 500
    assert preview.cash_after == D("8937.00")
    assert preview.positions_after == {"AAPL": ("LONG", D("6.0000")), "NVDA": ("LONG", D("2.5000"))}


def test_an_import_writes_every_row_with_fees_in_cash_and_cost_basis_and_the_ledger_verifies(
    newcomer, django_capture_on_commit_callbacks
):
    with (
        mock.patch("portfolios.tasks.refresh_portfolio_snapshot.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = transactions_import(user=newcomer, content=HISTORY)
    assert len(result.created) == 4 and not result.replayed
    delay.assert_called_once_with(newcomer.pk)  # one analytics refresh for the whole file, after commit
    assert CashAccount.objects.get(user=newcomer).balance == D("8937.00")
    aapl = Position.objects.get(user=newcomer, symbol="AAPL")
    assert aapl.shares == D("6") and aapl.avg_purchase_price == D("100.100000")  # (1000 + 1 fee) / 10
    sell = Trade.objects.get(user=newcomer, side="SELL")
    assert sell.realized_pnl == D("37.60")  # (110 - 100.10) * 4 - 2
    assert sell.note == "trim" and sell.source == TradeSource.IMPORT
    assert sell.executed_at == datetime(2024, 3, 5, 21, tzinfo=UTC)  # date-only rows: at the close
    assert all(t.idempotency_key.startswith("import:") for t in result.created)
    assert ledger_verify() == []


def test_importing_the_same_file_again_writes_nothing_and_says_so(newcomer):
    transactions_import(user=newcomer, content=HISTORY)
    before = _ledger(newcomer)
    preview = transactions_import_preview(user=newcomer, content=HISTORY)
    assert [r.status for r in preview.rows] == ["already_imported"] * 4 and not preview.can_import
    again = transactions_import(user=newcomer, content=HISTORY)
    assert again.replayed and again.created == [] and again.preview.duplicates == 4
    assert _ledger(newcomer) == before


def test_a_newer_export_overlapping_the_last_one_imports_only_the_new_rows(newcomer):
    transactions_import(user=newcomer, content=HISTORY)
    newer = HISTORY + b"2024-03-07,AAPL,SELL,6,120.00,1.00,,close\n"
    result = transactions_import(user=newcomer, content=newer)
    assert len(result.created) == 1 and result.preview.duplicates == 4
    assert Position.objects.get(user=newcomer, symbol="AAPL").shares == 0
    assert ledger_verify() == []


def test_rows_are_applied_by_date_so_a_file_listed_newest_first_imports(newcomer):
    lines = HISTORY.splitlines()
    reversed_file = b"\n".join([lines[0], *reversed(lines[1:])]) + b"\n"
    result = transactions_import(user=newcomer, content=reversed_file)
    assert len(result.created) == 4
    # By date; rows of one day keep the file's order (here NVDA's buy, then AAPL's sale).
    assert [(t.side, t.symbol) for t in result.created] == [("DEPOSIT", ""), ("BUY", "AAPL"), ("BUY", "NVDA"), ("SELL", "AAPL")]


def test_an_oversell_in_date_order_is_an_error_on_its_row_and_nothing_is_written(newcomer):
    content = HISTORY + b"2024-03-02,AAPL,SELL,1,100.00,0,,before the buy\n"
    preview = transactions_import_preview(user=newcomer, content=content)
    assert [(e.row, e.column) for e in preview.errors] == [(6, "shares")]
    assert "hold no AAPL" in preview.errors[0].message
    with pytest.raises(ImportRefused) as info:
        transactions_import(user=newcomer, content=content)
    assert info.value.fields == {"rows.6.shares": [preview.errors[0].message]}
    assert Trade.objects.filter(user=newcomer).count() == 0 and not Position.objects.filter(user=newcomer).exists()


def test_a_cash_shortfall_is_an_error_on_the_row_that_runs_out(newcomer):
    content = HISTORY + b"2024-03-06,META,BUY,100,500.00,0,,too big\n"
    preview = transactions_import_preview(user=newcomer, content=content)
    assert [(e.row, e.column) for e in preview.errors] == [(6, "shares")]
    assert "Not enough cash" in preview.errors[0].message
    with pytest.raises(ImportRefused):
        transactions_import(user=newcomer, content=content)
    assert not Trade.objects.filter(user=newcomer).exists()


def test_a_row_with_a_parse_error_blocks_the_whole_file(newcomer):
    content = HISTORY + b"2024-03-06,AAPL,BUY,1,1_00,0,,\n"
    with pytest.raises(ImportRefused) as info:
        transactions_import(user=newcomer, content=content)
    assert list(info.value.fields) == ["rows.6.price"]
    assert not Trade.objects.filter(user=newcomer).exists()


def test_dates_in_the_future_before_the_first_bar_or_before_the_last_entry_are_row_errors(newcomer):
    price_bar("AAPL", date(2024, 3, 1), "100.00")
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    content = (
        "date,symbol,side,shares,price,amount\n"
        "2024-02-01,,DEPOSIT,,,1000.00\n"
        "2024-02-28,AAPL,BUY,1,100.00,\n"
        f"{tomorrow},,DEPOSIT,,,5.00\n"
    ).encode()
    preview = transactions_import_preview(user=newcomer, content=content)
    assert {(e.row, e.column) for e in preview.errors} == {(3, "date"), (4, "date")}
    assert "prices from 2024-03-01" in next(e.message for e in preview.errors if e.row == 3)

    funded_investor("100.00", username="late", executed_at=datetime(2024, 6, 1, 15, tzinfo=UTC))
    late = InvestorFactory(username="late")
    preview = transactions_import_preview(user=late, content=HISTORY)
    assert {e.column for e in preview.errors} == {"date"}
    assert "last ledger entry (2024-06-01)" in preview.errors[0].message


def test_a_price_far_outside_the_days_range_or_a_day_without_a_session_is_a_warning_not_an_error(newcomer):
    bar = price_bar("AAPL", date(2024, 3, 4), "100.00")
    assert bar.low == bar.high == D("100.00")
    content = (
        b"date,symbol,side,shares,price,amount\n"
        b"2024-03-01,,DEPOSIT,,,10000.00\n"
        b"2024-03-04,AAPL,BUY,1,150.00,\n"  # 50 % above the day's high
        b"2024-03-04,AAPL,BUY,1,105.00,\n"  # within 10 %
        b"2024-03-09,AAPL,BUY,1,101.00,\n"  # a Saturday
    )
    preview = transactions_import_preview(user=newcomer, content=content)
    assert preview.errors == [] and preview.can_import
    warnings = {r.row: r.warnings for r in preview.rows}
    assert "far outside" in warnings[3][0] and warnings[4] == [] and "not an NYSE trading day" in warnings[5][0]


def test_a_symbol_outside_the_five_and_a_foreign_currency_are_refused(newcomer):
    content = b"date,symbol,side,shares,price,currency\n2024-03-04,TSLA,BUY,1,100.00,USD\n2024-03-04,AAPL,BUY,1,100.00,EUR\n"
    preview = transactions_import_preview(user=newcomer, content=content)
    assert [(e.row, e.column) for e in preview.errors] == [(2, "symbol"), (3, "currency")]


def test_a_file_that_differs_from_the_previewed_one_is_refused(newcomer):
    preview = transactions_import_preview(user=newcomer, content=HISTORY)
    with pytest.raises(ValidationFailed, match="not the file that was previewed"):
        transactions_import(user=newcomer, content=HISTORY + b"2024-03-06,,DEPOSIT,,,,1.00,\n", expected_sha256=preview.sha256)
    assert not Trade.objects.filter(user=newcomer).exists()


def test_an_unreadable_file_is_a_file_error(newcomer):
    with pytest.raises(RuleViolation) as info:
        transactions_import_preview(user=newcomer, content=b"nothing,useful\n1,2\n")
    assert list(info.value.fields) == ["file"] and info.value.code == "import_file_invalid"


def test_the_history_export_is_an_import_file(newcomer, client):
    transactions_import(user=newcomer, content=HISTORY)
    client.force_login(newcomer)
    exported = b"".join(client.get(reverse("portfolios:trades_csv")).streaming_content)
    other = InvestorFactory(username="twin")
    result = transactions_import(user=other, content=exported)
    assert len(result.created) == 4
    assert CashAccount.objects.get(user=other).balance == CashAccount.objects.get(user=newcomer).balance
    assert ledger_verify() == []


# --- The page -------------------------------------------------------------------------------------


def _upload(client, content, name="history.csv", fmt="auto"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("portfolios:import"), {"file": SimpleUploadedFile(name, content, "text/csv"), "format": fmt})


def test_the_page_previews_then_imports_on_confirmation_and_a_second_import_says_nothing_new(newcomer, client):
    client.force_login(newcomer)
    assert b"QuantAI CSV" in client.get(reverse("portfolios:import")).content
    response = _upload(client, HISTORY)
    assert response.status_code == 200
    assert b'id="import-rows"' in response.content and b"Import 4 transactions" in response.content
    assert not Trade.objects.filter(user=newcomer).exists()  # the preview wrote nothing
    confirm = response.context["confirm"]
    data = {"step": "confirm", **confirm.initial}
    assert base64.b64decode(data["content"]) == HISTORY
    response = client.post(reverse("portfolios:import"), data, follow=True)
    assert b"Imported 4 transactions" in response.content
    assert Trade.objects.filter(user=newcomer, source="import").count() == 4

    response = _upload(client, HISTORY)
    assert b'id="import-nothing"' in response.content and b"import-confirm" not in response.content
    response = client.post(reverse("portfolios:import"), data, follow=True)
    assert b"Nothing to import" in response.content
    assert Trade.objects.filter(user=newcomer).count() == 4


def test_the_page_shows_row_errors_and_offers_no_confirmation(newcomer, client):
    client.force_login(newcomer)
    response = _upload(client, HISTORY + b"2024-03-06,AAPL,SELL,100,1.00,0,,\n")
    assert response.status_code == 200
    assert b"Row 6, shares" in response.content and b"import-confirm" not in response.content


def test_a_confirmation_whose_content_was_changed_imports_nothing(newcomer, client):
    client.force_login(newcomer)
    confirm = _upload(client, HISTORY).context["confirm"]
    tampered = base64.b64encode(HISTORY.replace(b"10000.00", b"99999.00")).decode()
    data = {"step": "confirm", **confirm.initial, "content": tampered}
    response = client.post(reverse("portfolios:import"), data, follow=True)
    assert b"not the file that was previewed" in response.content
    assert not Trade.objects.filter(user=newcomer).exists()


def test_the_page_refuses_a_file_it_cannot_read(newcomer, client):
    client.force_login(newcomer)
    response = _upload(client, b"\xff\xfe")
    assert response.status_code == 400 and b"UTF-8" in response.content


# --- The API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(newcomer):
    client = APIClient()
    client.force_authenticate(newcomer)
    return client


URL = "/api/portfolio/me/import"


def test_the_api_dry_run_previews_and_the_import_is_idempotent(api, newcomer):
    response = api.post(URL, {"content": HISTORY.decode(), "dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["preview"]["new"] == 4 and body["preview"]["can_import"] is True
    assert body["preview"]["rows"][1]["fees"] == "1.00"
    assert not Trade.objects.filter(user=newcomer).exists()

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api.post(URL, {"file": SimpleUploadedFile("h.csv", HISTORY), "sha256": body["preview"]["sha256"]})
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 4
    response = api.post(URL, {"file": SimpleUploadedFile("h.csv", HISTORY)})
    assert response.status_code == 200 and response.json()["replayed"] is True and response.json()["created"] == 0
    assert Trade.objects.filter(user=newcomer).count() == 4


def test_the_api_answers_row_errors_in_the_common_shape_and_writes_nothing(api, newcomer):
    response = api.post(URL, {"content": (HISTORY + b"2024-03-06,AAPL,SELL,100,1.00,0,,\n").decode()}, format="json")
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "import_invalid" and list(error["fields"]) == ["rows.6.shares"]
    assert not Trade.objects.filter(user=newcomer).exists()


def test_the_api_wants_exactly_one_of_file_and_content_and_only_the_callers_portfolio(api, newcomer):
    assert api.post(URL, {"dry_run": True}, format="json").status_code == 400
    other = InvestorFactory(username="otto")
    response = api.post(f"/api/portfolio/{other.pk}/import", {"content": HISTORY.decode()}, format="json")
    assert response.status_code == 404
    assert not Trade.objects.exists()
