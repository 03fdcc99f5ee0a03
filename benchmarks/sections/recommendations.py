"""Benchmark section ``recommendations``: generating a day for 1,000 users, and serving today's cards under load.

The section seeds a throwaway SQLite database in a temporary directory, in a subprocess (this module run as
``python -m benchmarks.sections.recommendations``): a seeded random-walk market for the five stocks and SPY, and funded
users spread over the three risk profiles. It then times one :func:`recommendations_generate` for every user and
the five symbols with *injected* signals (the engine is measured, not model inference, which has its own
benchmark), and counts the queries of one ``GET /api/portfolio/me/recommendations``. Back in this process it starts
the real uvicorn server on that database and drives the bounded closed-loop load test of that endpoint with knox
tokens, one user per client (as the ``portfolio`` section does) so the per-user API ceiling is never reached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.loadtest import drive_per_user
from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.support import http_get, run_probe, running_server

DEFAULT_USERS = 1000
DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 16
#: Sessions of price history seeded (the engine reads about a year for volatility and the regime).
SESSIONS = 300
#: The injected P(up) per symbol: two BUYs, two SELLs and one near-even call, so every code path is sized.
P_UP = {"AAPL": 0.68, "AMZN": 0.35, "GOOGL": 0.52, "META": 0.72, "NVDA": 0.30}
API_PATH = "/api/portfolio/me/recommendations"
SERVER_ENV = {"DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING"}
DB_PREFIX = "quantai-bench-recommendations-"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recommendations-users", type=int, help=f"recommendations: users to generate for (default {DEFAULT_USERS})"
    )


@register(
    "recommendations",
    description="recommendation generation for 1,000 users x 5 symbols; GET /api/portfolio/me/recommendations under load",
    add_arguments=_arguments,
)
def recommendations(context: BenchmarkContext) -> SectionResult:
    users = int(context.option("recommendations_users", DEFAULT_USERS))
    total = int(context.option("requests", DEFAULT_REQUESTS))
    concurrency = int(context.option("concurrency", DEFAULT_CONCURRENCY))
    result = SectionResult()
    with tempfile.TemporaryDirectory(prefix=DB_PREFIX) as tmp:
        env = {
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'recommendations.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
            "QUANTAI_VAR_DIR": tmp,
            **SERVER_ENV,
        }
        context.log(f"recommendations: seeding {users} users and generating their recommendations")
        seeded = run_probe(
            "benchmarks.sections.recommendations", ["--users", str(users), "--clients", str(concurrency)], env=env, timeout=900
        )
        if "unavailable" in seeded:
            raise SectionSkipped(seeded["unavailable"])
        result.add("generate_users", seeded["users"], "users")
        result.add("generate_symbols", seeded["symbols"], "symbols")
        result.add("generate_created", seeded["created"], "recommendations")
        result.add("generate_s", seeded["generate_s"], "s")
        result.add("generate_per_user_ms", seeded["generate_s"] * 1000 / max(seeded["users"], 1), "ms")
        result.add("generate_second_run_created", seeded["second_created"], "recommendations")
        result.add("seed_s", seeded["seed_s"], "s")
        result.add("queries_api_recommendations", seeded["queries"], "queries")
        result.note(f"actions created: {seeded['actions']}; generation said: {seeded['describe']}")

        credentials = [{"Authorization": f"Token {token}"} for token in seeded["tokens"]]
        with running_server(env=env) as server:
            status, body = http_get(server.host, server.port, API_PATH, headers=credentials[0], timeout=10)
            if status != 200:
                result.note(f"{API_PATH} answered {status} before the run: {body[:300].decode(errors='replace')}")
            # Warm-up (not counted): lazy imports, first connections.
            drive_per_user(server.base_url, API_PATH, credentials, total=2 * concurrency, concurrency=concurrency)
            context.log(f"recommendations: {total} x GET {API_PATH} at concurrency {concurrency}")
            load = drive_per_user(server.base_url, API_PATH, credentials, total=total, concurrency=concurrency)
            load.add_figures(result, prefix="api_")
            result.add("server_rss_after_mib", server.rss_mib(), "MiB")
    result.note(
        f"generation: one recommendations_generate over {users} users with injected signals (no model inference), "
        f"SQLite file, in-memory channel layer; load: 1 uvicorn process, local settings with DEBUG off, "
        f"{concurrency} keep-alive clients, one user each (token auth), after {2 * concurrency} warm-up requests"
    )
    return result


# --- The seed subprocess ------------------------------------------------------------------------------
# Everything below runs in ``python -m benchmarks.sections.recommendations`` against the throwaway database only.


def _seed_market(end: Any) -> None:
    """``SESSIONS`` sessions of a seeded random walk for every symbol, up to ``end`` included."""
    from decimal import Decimal

    import numpy as np

    from market import calendar
    from market.models import PriceBar, PriceSource
    from market.symbols import ALL_SYMBOLS

    days = calendar.sessions(calendar.add_trading_days(end, -(SESSIONS - 1)), end)
    rng = np.random.default_rng(20240603)  # benchmark data, not security
    rows = []
    for k, symbol in enumerate(ALL_SYMBOLS):
        closes = (100 + 40 * k) * np.exp(np.cumsum(rng.normal(0.0004, 0.018, len(days))))
        for day, close in zip(days, closes, strict=True):
            c = Decimal(f"{close:.4f}")
            rows.append(
                PriceBar(symbol=symbol, date=day, open=c, high=c, low=c, close=c, adj_close=c, volume=1_000_000,
                         source=PriceSource.DEMO)
            )  # fmt: skip
    PriceBar.objects.bulk_create(rows, batch_size=2000)


def injected_signals(day: Any) -> Any:
    from recommendations.model_signals import Signal, SignalBatch

    signals = {
        symbol: Signal(
            symbol=symbol, date=day, p_up=p, confidence=max(p, 1 - p), expected_return=(p - 0.5) / 10, price_target=None,
            top_contributions=[("ret_20", 0.3), ("rsi_14", -0.1)], model_version_id=None, payoff_ratio=1.1,
            feature_values={"ret_20": 0.08, "rsi_14": 64.0},
        )
        for symbol, p in P_UP.items()
    }  # fmt: skip
    return SignalBatch(date=day, signals=signals)


def _seed(args: argparse.Namespace) -> dict[str, Any]:
    from collections import Counter
    from datetime import date
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    from accounts.models import OnboardingStage, RiskTolerance, User
    from portfolios.models import CashAccount, Position, PositionType
    from recommendations.models import Recommendation
    from recommendations.services import recommendations_generate

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    day = date(2024, 6, 3)
    _seed_market(day)
    password = make_password("bench-password-123456")  # one hash for all: hashing is not what we measure
    tolerances = list(RiskTolerance.values)
    names = [f"rbench{i:04d}" for i in range(args.users)]
    User.objects.bulk_create(
        [
            User(username=name, email=f"{name}@example.com", password=password, onboarding_stage=OnboardingStage.ACTIVE,
                 risk_tolerance=tolerances[i % len(tolerances)])
            for i, name in enumerate(names)
        ],
        batch_size=1000,
    )  # fmt: skip
    ids = list(User.objects.filter(username__in=names).order_by("pk").values_list("pk", flat=True))
    cash = [Decimal(v) for v in ("25000.00", "50000.00", "100000.00", "250000.00")]
    CashAccount.objects.bulk_create(
        [CashAccount(user_id=uid, balance=cash[i % len(cash)], net_deposits=cash[i % len(cash)]) for i, uid in enumerate(ids)],
        batch_size=1000,
    )
    # Every other user holds the two SELL-signal stocks, so SELLs are sized against holdings (the others get HOLD:
    # no short selling without a holding for most profiles). Cash stays as deposited: positions are not ledger-backed
    # here, which the engine does not read.
    Position.objects.bulk_create(
        [
            Position(user_id=uid, symbol=symbol, shares=Decimal("20.0000"), avg_purchase_price=Decimal("100.00"),
                     position_type=PositionType.LONG, purchase_date=day)
            for uid in ids[::2]
            for symbol in ("AMZN", "NVDA")
        ],
        batch_size=1000,
    )  # fmt: skip
    seed_s = time.perf_counter() - started

    batch = injected_signals(day)
    started = time.perf_counter()
    generated = recommendations_generate(date=day, signals=batch)
    generate_s = time.perf_counter() - started
    created = Recommendation.objects.filter(trading_date=day).count()
    second_before = created
    recommendations_generate(date=day, signals=batch)  # idempotent: must add nothing
    second_created = Recommendation.objects.filter(trading_date=day).count() - second_before
    actions = Counter(Recommendation.objects.filter(trading_date=day).values_list("recommendation_type", flat=True))

    # Queries of one request (after a warm-up request), and tokens for the load clients.
    probe_user = User.objects.get(pk=ids[0])
    _, token = AuthToken.objects.create(user=probe_user)
    client = Client(SERVER_NAME="127.0.0.1")
    client.get(API_PATH, HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(API_PATH, HTTP_AUTHORIZATION=f"Token {token}")
    if response.status_code != 200:
        raise RuntimeError(f"GET {API_PATH} answered {response.status_code}: {response.content[:300]!r}")
    tokens = [AuthToken.objects.create(user=user)[1] for user in User.objects.filter(pk__in=ids[1 : args.clients + 1])]
    return {
        "users": len(ids),
        "symbols": len(batch.signals),
        "created": created,
        "second_created": second_created,
        "actions": dict(sorted(actions.items())),
        "describe": generated.describe(),
        "generate_s": generate_s,
        "seed_s": seed_s,
        "queries": len(captured.captured_queries),
        "tokens": tokens or [token],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed a throwaway database, time recommendation generation, report.")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--clients", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("sqlite:///") or DB_PREFIX not in database_url:
        raise SystemExit("refusing to seed: DATABASE_URL must be the section's throwaway SQLite file")
    import django

    django.setup()
    from benchmarks.support import print_result

    print_result(_seed(args))


if __name__ == "__main__":
    main()
