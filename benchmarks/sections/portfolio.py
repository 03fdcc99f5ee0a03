"""Benchmark section ``portfolio``: the portfolio API (and dashboard) with 1,000 users and 100,000 trades.

The section seeds a throwaway SQLite database in a temporary directory, in a subprocess (this module
run as ``python -m benchmarks.sections.portfolio``), starts the real uvicorn server on it and drives a bounded
closed-loop load test of ``GET /api/portfolio/me`` with knox tokens, one user per client so the
per-user API ceiling is never reached. The dashboard is load-tested too when ``portfolios.urls`` is
mounted. The seed subprocess also counts the database queries of one request for a user with 1 trade
and one with 500: the count must not grow with the size of the ledger.

Each ledger is folded with the pure ledger arithmetic (:mod:`benchmarks.seeding`) and bulk-inserted, with
the positions and cash rows it yields. A sample of users is then checked with the ledger replay
(``verify_ledger``'s check).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.loadtest import drive_per_user
from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.sections.load_prices import prices_dir
from benchmarks.seeding import ledger_rows, seed_closes
from benchmarks.support import http_get, run_probe, running_server

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
        seeded = run_probe("benchmarks.sections.portfolio", args, env=env, timeout=900)
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
            status, body = http_get(server.host, server.port, "/api/portfolio/me", headers=api_credentials[0], timeout=10)
            if status != 200:
                result.note(f"/api/portfolio/me answered {status} before the run: {body[:300].decode(errors='replace')}")
            # Warm-up (not counted): lazy imports, first connections.
            drive_per_user(server.base_url, "/api/portfolio/me", api_credentials, total=2 * concurrency, concurrency=concurrency)
            context.log(f"portfolio: {total} x GET /api/portfolio/me at concurrency {concurrency}")
            load = drive_per_user(server.base_url, "/api/portfolio/me", api_credentials, total=total, concurrency=concurrency)
            load.add_figures(result, prefix="api_me_")

            dashboard = seeded.get("dashboard_path")
            if dashboard:
                cookies = [{"Cookie": f"{seeded['session_cookie_name']}={value}"} for value in seeded["sessions"]]
                drive_per_user(server.base_url, dashboard, cookies, total=2 * concurrency, concurrency=concurrency)
                context.log(f"portfolio: {total} x GET {dashboard} at concurrency {concurrency}")
                page = drive_per_user(server.base_url, dashboard, cookies, total=total, concurrency=concurrency)
                page.add_figures(result, prefix="dashboard_")
            else:
                result.note(f"dashboard not load-tested: {seeded['dashboard_missing']}")
            result.add("server_rss_after_mib", server.rss_mib(), "MiB")
            counts = [result.figures[name]["value"] for name in ("api_me_errors", "dashboard_errors") if name in result.figures]
            if any(counts):
                # The server's own account of a failed request (its traceback) goes with the figures.
                log = server.log_path.read_text(errors="replace")
                result.note(f"server log (last 4,000 characters): {log[-4000:]}")
    result.note(
        f"1 uvicorn process, local settings with DEBUG off, SQLite file; {concurrency} keep-alive clients, one user each "
        f"(token auth), after {2 * concurrency} warm-up requests; {users} users x {per_user} trades (+1 deposit each)"
    )
    return result


# --- The seed subprocess ------------------------------------------------------------------------------
# Everything below runs in ``python -m benchmarks.sections.portfolio`` against the throwaway database only.


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
    days, by_day, prices = seed_closes(args.prices_dir, rng)

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
            rows, state = ledger_rows(uid, sizes[name], days, by_day, rng)
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
    from benchmarks.support import print_result

    print_result(_seed(args))


if __name__ == "__main__":
    main()
