"""Benchmark section ``portfolio``: the portfolio API (and dashboard) with 1,000 users and 100,000 trades.

The section seeds a throwaway SQLite database in a temporary directory, in a subprocess (this module
run as ``python -m portfolios.benchmarks``), starts the real uvicorn server on it and drives a bounded
closed-loop load test of ``GET /api/portfolio/me`` with knox tokens, one user per client so the
per-user API ceiling is never reached. The dashboard is load-tested too when ``portfolios.urls`` is
mounted. The seed subprocess also counts the database queries of one request for a user with 1 trade
and one with 500: the count must not grow with the size of the ledger.

Seeding 100,000 trades through ``trade_execute`` would take many minutes (one locked transaction per
trade), so each ledger is folded with the pure ledger arithmetic (:func:`portfolios.ledger.entry_apply`,
the very function the service uses), and the ledger rows, positions and cash rows it yields are
bulk-inserted. A sample of users is then checked with the ledger replay (``verify_ledger``'s check).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from quantai.benchmarks.loadtest import LoadResult, drive
from quantai.benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from quantai.benchmarks.sections.load_prices import prices_dir
from quantai.benchmarks.support import run_probe, running_server

DEFAULT_USERS = 1000
DEFAULT_TRADES_PER_USER = 100
DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 16
#: Ledger sizes of the two users whose per-request query counts are compared.
SMALL_LEDGER, LARGE_LEDGER = 1, 500
VERIFY_SAMPLE = 50
SERVER_ENV = {"DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING"}


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portfolio-users", type=int, help=f"portfolio: users to seed (default {DEFAULT_USERS})")
    parser.add_argument(
        "--portfolio-trades-per-user", type=int, help=f"portfolio: trades per user (default {DEFAULT_TRADES_PER_USER})"
    )


def _drive_per_user(base_url: str, path: str, credentials: list[dict[str, str]], *, total: int, concurrency: int) -> LoadResult:
    """``concurrency`` closed-loop clients, each signed in as its own user (headers from ``credentials``).

    :func:`quantai.benchmarks.loadtest.drive` sends one set of headers, so each client is one
    ``drive`` of concurrency 1 with its user's headers; the results are merged.
    """
    clients = min(concurrency, len(credentials))
    share, extra = divmod(total, clients)
    results: list[LoadResult] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        load = drive(base_url, path, total=share + (1 if index < extra else 0), concurrency=1, headers=credentials[index])
        with lock:
            results.append(load)

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-portfolio-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = LoadResult(requested=total, elapsed_s=time.perf_counter() - started)
    merged.statuses = Counter()
    for load in results:
        merged.latencies_s.extend(load.latencies_s)
        merged.statuses.update(load.statuses)
        merged.errors += load.errors
        merged.stopped_by_deadline |= load.stopped_by_deadline
        merged.error_samples.extend(load.error_samples[: 3 - len(merged.error_samples)])
    return merged


@register(
    "portfolio",
    description="GET /api/portfolio/me (and the dashboard) under load with 1,000 users and 100,000 trades; queries per request",
    add_arguments=_arguments,
)
def portfolio(context: BenchmarkContext) -> SectionResult:
    users = int(context.option("portfolio_users", DEFAULT_USERS))
    per_user = int(context.option("portfolio_trades_per_user", DEFAULT_TRADES_PER_USER))
    total = int(context.option("requests", DEFAULT_REQUESTS))
    concurrency = int(context.option("concurrency", DEFAULT_CONCURRENCY))
    # Real closes when the price files are there (--prices-dir, QUANTAI_PRICES_DIR, ../shared/data/prices);
    # a seeded random walk otherwise.
    prices = prices_dir(context)
    result = SectionResult()
    with tempfile.TemporaryDirectory(prefix="quantai-bench-portfolio-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'portfolio.sqlite3'}"
        # The server runs with DEBUG off, so pages need collected static files: they go to the
        # throwaway directory too (QUANTAI_VAR_DIR), never into the installation's own var/.
        env = {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
            "QUANTAI_VAR_DIR": tmp,
            **SERVER_ENV,
        }
        args = ["--users", str(users), "--trades-per-user", str(per_user), "--clients", str(concurrency)]
        if (prices / "AAPL.csv").exists():
            args += ["--prices-dir", str(prices)]
        context.log(f"portfolio: seeding {users} users x {per_user} trades into {database_url}")
        seeded = run_probe("portfolios.benchmarks", args, env=env, timeout=900)
        if "unavailable" in seeded:
            raise SectionSkipped(seeded["unavailable"])
        result.add("seed_users", seeded["users"], "users")
        result.add("seed_trades", seeded["trades"], "trades")
        result.add("seed_positions", seeded["positions"], "positions")
        result.add("seed_s", seeded["seed_s"], "s")
        result.add("ledger_sample_verified", seeded["verified_users"], "users")
        result.add("ledger_sample_problems", seeded["verify_problems"], "problems")
        for name, count in seeded["queries"].items():
            result.add(f"queries_{name}", count, "queries")
        result.note(f"prices: {seeded['prices']}")

        api_credentials = [{"Authorization": f"Token {token}"} for token in seeded["tokens"]]
        with running_server(env=env) as server:
            status, body = _get_with(server.host, server.port, "/api/portfolio/me", api_credentials[0])
            if status != 200:
                result.note(f"/api/portfolio/me answered {status} before the run: {body[:300].decode(errors='replace')}")
            # Warm-up (not counted): lazy imports, first connections.
            _drive_per_user(server.base_url, "/api/portfolio/me", api_credentials, total=2 * concurrency, concurrency=concurrency)
            context.log(f"portfolio: {total} x GET /api/portfolio/me at concurrency {concurrency}")
            load = _drive_per_user(server.base_url, "/api/portfolio/me", api_credentials, total=total, concurrency=concurrency)
            load.add_figures(result, prefix="api_me_")

            dashboard = seeded.get("dashboard_path")
            if dashboard:
                cookies = [{"Cookie": f"{seeded['session_cookie_name']}={value}"} for value in seeded["sessions"]]
                _drive_per_user(server.base_url, dashboard, cookies, total=2 * concurrency, concurrency=concurrency)
                context.log(f"portfolio: {total} x GET {dashboard} at concurrency {concurrency}")
                page = _drive_per_user(server.base_url, dashboard, cookies, total=total, concurrency=concurrency)
                page.add_figures(result, prefix="dashboard_")
            else:
                result.note(f"dashboard not load-tested: {seeded['dashboard_missing']}")
            result.add("server_rss_after_mib", server.rss_mib(), "MiB")
    result.note(
        f"1 uvicorn process, local settings with DEBUG off, SQLite file; {concurrency} keep-alive clients, one user each "
        f"(token auth), after {2 * concurrency} warm-up requests; {users} users x {per_user} trades (+1 deposit each)"
    )
    return result


def _get_with(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host, **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- The seed subprocess ------------------------------------------------------------------------------
# Everything below runs in ``python -m portfolios.benchmarks`` against the throwaway database only.


def _closes(prices_dir: str | None, rng: random.Random) -> tuple[list[Any], dict[Any, dict[str, Any]], str]:
    """(trading days, close by day and symbol, description): the last year of closes of the five."""
    from datetime import date, timedelta
    from decimal import Decimal

    from market.models import PriceBar, PriceSource
    from market.symbols import ALL_SYMBOLS, TRADABLE

    if prices_dir:
        from market import providers, services

        services.prices_load(provider=providers.get_provider("csv", path=prices_dir), symbols=ALL_SYMBOLS, start=None, end=None)
        described = f"real daily closes from {prices_dir}"
    else:
        bars, day = [], date(2024, 1, 2)
        level = {symbol: Decimal("100") for symbol in ALL_SYMBOLS}
        for _ in range(260):
            day += timedelta(days=1 if day.weekday() < 4 else 3)
            for symbol in ALL_SYMBOLS:
                level[symbol] = max(
                    Decimal("5"), (level[symbol] * Decimal(str(1 + rng.gauss(0, 0.02)))).quantize(Decimal("0.0001"))
                )
                close = level[symbol]
                bars.append(
                    PriceBar(
                        symbol=symbol, date=day, open=close, high=close, low=close, close=close, adj_close=close,
                        volume=1_000_000, source=PriceSource.DEMO,
                    )
                )  # fmt: skip
        PriceBar.objects.bulk_create(bars, batch_size=2000)
        described = "a seeded random walk (no price files found)"
    by_day: dict[Any, dict[str, Any]] = {}
    for symbol, day, close in PriceBar.objects.filter(symbol__in=TRADABLE).values_list("symbol", "date", "close"):
        by_day.setdefault(day, {})[symbol] = close
    days = sorted(day for day, closes in by_day.items() if len(closes) == len(TRADABLE))[-252:]
    return days, by_day, f"{described}, trades over {days[0]}..{days[-1]}"


def _ledger_rows(user_id: int, trades: int, days: list[Any], by_day: dict[Any, dict[str, Any]], rng: random.Random) -> tuple:
    """One user's ledger (a deposit, then ``trades`` BUYs and SELLs at the day's close) folded with the ledger rules.

    Returns (Trade rows, final LedgerState). Each entry goes through ``entry_apply``, so a refused
    entry is never written; a refused BUY is replaced by a SELL of something held.
    """
    from datetime import UTC, datetime, time, timedelta
    from decimal import ROUND_DOWN, Decimal

    from market.symbols import TRADABLE
    from portfolios.ledger import LedgerEntry, LedgerRuleError, LedgerState, Side, entry_apply, q2
    from portfolios.models import Trade, TradeSource

    state = LedgerState()
    rows: list[Trade] = []
    deposit = Decimal(rng.choice([25_000, 50_000, 100_000, 250_000]))
    first_day = days[0]

    def add(entry: LedgerEntry, at: datetime) -> bool:
        nonlocal state
        try:
            state, effect = entry_apply(state, entry, allow_short=False)
        except LedgerRuleError:
            return False
        rows.append(
            Trade(
                user_id=user_id, symbol=entry.symbol, side=entry.side.value, shares=entry.shares, price=entry.price,
                fees=entry.fees, cash_delta=effect.cash_delta, realized_pnl=effect.realized_pnl, executed_at=at,
                source=TradeSource.ONBOARDING if entry.side == Side.DEPOSIT else TradeSource.MANUAL,
                idempotency_key=f"bench-{len(rows)}",
            )
        )  # fmt: skip
        return True

    add(LedgerEntry(side=Side.DEPOSIT, amount=deposit, executed_on=first_day), datetime.combine(first_day, time(13, 0), UTC))
    trade_days = sorted(rng.choices(days[1:], k=trades))
    fees = Decimal("1.00")
    for n, day in enumerate(trade_days):
        at = datetime.combine(day, time(14, 30), UTC) + timedelta(seconds=n)
        symbol = rng.choice(TRADABLE)
        price = q2(by_day[day][symbol])
        held = state.positions.get(symbol)
        done = False
        if held is not None and held.shares > 0 and rng.random() < 0.45:
            shares = (held.shares * Decimal(rng.choice(["0.25", "0.5", "1"]))).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            done = shares > 0 and add(
                LedgerEntry(side=Side.SELL, symbol=symbol, shares=shares, price=price, fees=fees, executed_on=day), at
            )
        if not done:
            budget = state.available_cash * Decimal(rng.choice(["0.02", "0.05", "0.1"]))
            shares = (budget / price).quantize(Decimal("1") if budget > 2 * price else Decimal("0.0001"), rounding=ROUND_DOWN)
            done = shares > 0 and add(
                LedgerEntry(side=Side.BUY, symbol=symbol, shares=shares, price=price, fees=fees, executed_on=day), at
            )
        if not done:  # out of cash: sell the largest holding instead
            largest = max((p for p in state.positions.values() if p.shares > 0), key=lambda p: p.shares)
            sell_price = q2(by_day[day][largest.symbol])
            entry = LedgerEntry(
                side=Side.SELL, symbol=largest.symbol, shares=largest.shares, price=sell_price, fees=fees, executed_on=day
            )
            if not add(entry, at):
                raise RuntimeError(f"could not generate trade {n} of user {user_id}")
    return rows, state


def _seed(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import OnboardingStage, RiskTolerance, User
    from portfolios.models import CashAccount, Position, Trade
    from portfolios.selectors import user_ledger_problems
    from portfolios.services import positions_revalue

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    rng = random.Random(20240601)  # benchmark data, not security
    days, by_day, prices = _closes(args.prices_dir, rng)

    password = make_password("bench-password-123456")  # one hash for all: hashing 1,000 times is not what we measure
    names = [f"bench{i:04d}" for i in range(args.users)] + ["bench-small", "bench-large"]
    tolerances = list(RiskTolerance.values)
    User.objects.bulk_create(
        [
            User(username=name, email=f"{name}@example.com", password=password, onboarding_stage=OnboardingStage.ACTIVE,
                 risk_tolerance=tolerances[i % len(tolerances)])
            for i, name in enumerate(names)
        ],
        batch_size=1000,
    )  # fmt: skip
    ids = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
    sizes = {name: args.trades_per_user for name in names}
    sizes["bench-small"], sizes["bench-large"] = SMALL_LEDGER, LARGE_LEDGER

    trade_count = position_count = 0
    with transaction.atomic():
        pending: list[Trade] = []
        for name in names:
            uid = ids[name]
            rows, state = _ledger_rows(uid, sizes[name], days, by_day, rng)
            pending += rows
            CashAccount.objects.create(user_id=uid, balance=state.cash, net_deposits=state.net_deposits)
            positions = [
                Position(user_id=uid, symbol=p.symbol, position_type=p.direction.value, shares=p.shares,
                         avg_purchase_price=p.avg_price, realized_pnl=p.realized_pnl, purchase_date=p.opened_on)
                for p in state.positions.values()
            ]  # fmt: skip
            Position.objects.bulk_create(positions)
            position_count += len(positions)
            if len(pending) >= 20_000:
                Trade.objects.bulk_create(pending, batch_size=2000)
                trade_count += len(pending)
                pending = []
        Trade.objects.bulk_create(pending, batch_size=2000)
        trade_count += len(pending)
    positions_revalue()
    seed_s = time.perf_counter() - started

    # The ledger replay (what verify_ledger runs) on a sample, plus the two query-count users.
    sample = [*rng.sample(sorted(ids.values()), min(VERIFY_SAMPLE, len(ids))), ids["bench-small"], ids["bench-large"]]
    problems = 0
    for uid in sample:
        problems += len(
            user_ledger_problems(
                trades=list(Trade.objects.filter(user_id=uid).order_by("id")),
                cash=CashAccount.objects.filter(user_id=uid).first(),
                positions=list(Position.objects.filter(user_id=uid)),
            )
        )

    queries, tokens, sessions, dashboard = _per_request_queries(ids, args.clients, connection)
    trades_total = Trade.objects.exclude(side__in=["DEPOSIT", "WITHDRAW"]).count()
    from django.conf import settings

    return {
        "users": User.objects.count(),
        "trades": trades_total,
        "ledger_rows": trade_count,
        "positions": position_count,
        "seed_s": seed_s,
        "verified_users": len(sample),
        "verify_problems": problems,
        "prices": prices,
        "queries": queries,
        "tokens": tokens,
        "sessions": sessions,
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        **dashboard,
    }


def _per_request_queries(ids: dict[str, int], clients: int, connection: Any) -> tuple[dict[str, int], list[str], list[str], dict]:
    """Queries of one ``GET /api/portfolio/me`` (and one dashboard) for the 1-trade and the 500-trade user; credentials."""
    from django.conf import settings
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse
    from knox.models import AuthToken

    from accounts.models import User

    try:
        dashboard_path: str | None = reverse("portfolios:dashboard")
        missing = ""
    except NoReverseMatch:
        dashboard_path, missing = None, "portfolios.urls is not mounted in quantai/urls.py (no 'portfolios:dashboard' route)"

    queries: dict[str, int] = {}
    for label, name in (("api_me_1_trade", "bench-small"), ("api_me_500_trades", "bench-large")):
        user = User.objects.get(pk=ids[name])
        _, token = AuthToken.objects.create(user=user)
        client = Client(SERVER_NAME="127.0.0.1")
        client.get("/api/portfolio/me", HTTP_AUTHORIZATION=f"Token {token}")  # warm: lazy imports, caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/portfolio/me", HTTP_AUTHORIZATION=f"Token {token}")
        if response.status_code != 200:
            raise RuntimeError(f"GET /api/portfolio/me answered {response.status_code}: {response.content[:300]!r}")
        queries[label] = len(captured.captured_queries)
        if dashboard_path:
            browser = Client(SERVER_NAME="127.0.0.1")
            browser.force_login(user)
            browser.get(dashboard_path)
            with CaptureQueriesContext(connection) as captured:
                page = browser.get(dashboard_path)
            queries[label.replace("api_me", "dashboard")] = len(captured.captured_queries)
            if page.status_code != 200:
                missing = f"the dashboard answered {page.status_code}"

    load_users = User.objects.filter(username__startswith="bench0").order_by("?")[:clients]
    tokens, sessions = [], []
    for user in load_users:
        tokens.append(AuthToken.objects.create(user=user)[1])
        if dashboard_path:
            browser = Client(SERVER_NAME="127.0.0.1")
            browser.force_login(user)
            sessions.append(browser.cookies[settings.SESSION_COOKIE_NAME].value)
    dashboard: dict[str, Any] = {"dashboard_path": dashboard_path if not missing else None, "dashboard_missing": missing}
    return queries, tokens, sessions, dashboard


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed a throwaway portfolio database and report what was seeded.")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--trades-per-user", type=int, default=DEFAULT_TRADES_PER_USER)
    parser.add_argument("--clients", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--prices-dir")
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("sqlite:///") or "quantai-bench-portfolio-" not in database_url:
        raise SystemExit("refusing to seed: DATABASE_URL must be the section's throwaway SQLite file")
    import django

    django.setup()
    from quantai.benchmarks.support import print_result

    print_result(_seed(args))


if __name__ == "__main__":
    main()
