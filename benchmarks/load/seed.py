"""Seeding the ``load`` benchmark's database: users, trades, recommendations, API tokens and sessions.

Run by the section as ``python -m benchmarks.load.seed`` against the database it just created
(never anything else: :func:`main` refuses another name). Users and ledgers reuse the ``portfolio``
section's seeding (:func:`benchmarks.seeding.seed_closes` and :func:`~benchmarks.seeding.ledger_rows`: each ledger folded with
the ledger rules, then bulk-inserted); recommendations are bulk-inserted here, one per symbol and
session over the last sessions up to the latest completed one. The latest session's are pending, so
the load can answer them; they are sized from the user's final ledger so that accepting one never
overdraws cash or oversells. Older ones are answered or expired, with outcomes once their horizon has
passed. Credentials (knox tokens, session keys) are written to a JSON file for the load generator.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

SEED = 20261124
PASSWORD = "load-bench-password-2026"  # noqa: S105 - benchmark users in a throwaway database
HORIZON_DAYS = 5
USER_PREFIX = "load"
BATCH = 2000


@dataclass(frozen=True)
class RecDay:
    """One session of recommendations: its date, the last session it may be answered, when it is scored."""

    trading_date: date
    expires_on: date
    evaluate_on: date


def rec_days(latest: date, count: int) -> list[RecDay]:
    """The ``count`` sessions up to ``latest`` (oldest first) with their expiry and evaluation sessions."""
    from market import calendar

    start = calendar.add_trading_days(latest, -(max(count, 1) - 1))
    return [
        RecDay(day, calendar.next_trading_day(day), calendar.add_trading_days(day, HORIZON_DAYS))
        for day in calendar.sessions(start, latest)
    ]


def recommendation_rows(
    *,
    user_id: int,
    days: Sequence[RecDay],
    closes: Mapping[str, Decimal],
    cash: Decimal,
    held: Mapping[str, Decimal],
    rng: random.Random,
) -> list[Any]:
    """One unsaved ``Recommendation`` per tradable symbol and session in ``days`` (oldest first).

    The last session's rows are pending and answerable: a SELL of one share only where at least one is
    held, a BUY of one share only while ``cash`` covers it twice over (budgeted across the day's BUYs),
    otherwise a HOLD, so accepting any of them is a trade the ledger allows. Earlier rows are accepted,
    rejected or expired; those whose evaluation session is not after the last session carry an outcome.
    """
    from market.symbols import TRADABLE
    from recommendations.models import Recommendation, RecommendationStatus, RecommendationType, TradeSideChoice

    latest = days[-1].trading_date
    budget = cash
    rows = []
    one = Decimal("1.0000")
    for day in days:
        pending = day.trading_date == latest
        at = datetime.combine(day.trading_date, clock(21, 30), UTC)
        for symbol in TRADABLE:
            price = closes[symbol]
            confidence = Decimal(f"{rng.uniform(0.5, 0.8):.4f}")
            fields: dict[str, Any] = {}
            if pending:
                if held.get(symbol, Decimal(0)) >= one and rng.random() < 0.35:
                    kind, side, shares = RecommendationType.SELL, TradeSideChoice.SELL, one
                elif budget >= 2 * price:
                    kind, side, shares = RecommendationType.BUY, TradeSideChoice.BUY, one
                    budget -= 2 * price
                else:
                    kind, side, shares = RecommendationType.HOLD, TradeSideChoice.NONE, Decimal(0)
                status = RecommendationStatus.PENDING
            else:
                kind = rng.choice([RecommendationType.BUY, RecommendationType.SELL, RecommendationType.HOLD])
                side = {"BUY": TradeSideChoice.BUY, "SELL": TradeSideChoice.SELL}.get(kind, TradeSideChoice.NONE)
                shares = Decimal(rng.randint(1, 20)) if side else Decimal(0)
                roll = rng.random()
                status = (
                    RecommendationStatus.ACCEPTED
                    if roll < 0.4
                    else RecommendationStatus.REJECTED
                    if roll < 0.75
                    else RecommendationStatus.EXPIRED
                )
                if status != RecommendationStatus.EXPIRED:
                    fields.update(
                        user_accepted=status == RecommendationStatus.ACCEPTED,
                        user_response_timestamp=at.replace(hour=23),
                    )
                if status == RecommendationStatus.ACCEPTED and side:
                    fields.update(actual_shares_traded=shares, actual_price=price)
                if day.evaluate_on <= latest:
                    ret = Decimal(f"{rng.gauss(0.2, 3.0):.4f}")
                    pnl = (shares * price * ret / 100).quantize(Decimal("0.01"))
                    fields.update(
                        outcome_evaluated=True,
                        evaluation_timestamp=datetime.combine(day.evaluate_on, clock(21, 45), UTC),
                        outcome_date=day.evaluate_on,
                        outcome_price=(price * (1 + ret / 100)).quantize(Decimal("0.0001")),
                        direction_correct=ret > 0,
                        shadow_pnl=pnl,
                        shadow_return_pct=ret,
                    )
                    if status == RecommendationStatus.ACCEPTED:
                        fields.update(outcome_pnl=pnl, outcome_return_pct=ret)
            rows.append(
                Recommendation(
                    user_id=user_id, symbol=symbol, recommendation_type=kind, recommended_shares=shares,
                    recommended_price=price, confidence_score=confidence, recommendation_timestamp=at,
                    model_prediction=Decimal(f"{rng.uniform(0.3, 0.7):.6f}"), risk_score=Decimal(f"{rng.uniform(0.1, 0.6):.4f}"),
                    recommendation_reasoning=f"{kind} {symbol}: seeded for the load benchmark.",
                    model_features={"contributions": [["ret_20", 0.3], ["rsi_14", -0.1]]}, market_conditions={},
                    status=status, trading_date=day.trading_date, horizon_days=HORIZON_DAYS, expires_on=day.expires_on,
                    evaluate_on=day.evaluate_on, trade_side=side, **fields,
                )
            )  # fmt: skip
    return rows


def fast_insert(model: Any, objects: Sequence[Any]) -> int:
    """Insert unsaved ``objects`` of ``model`` with multi-row INSERTs, without the ORM's per-value compilation.

    ``bulk_create`` spends most of its time compiling each value (measured: ~70 % of seeding 300,000 rows
    on MariaDB). Values go to the driver as they are, except JSON (serialised), aware datetimes (adapted
    as the backend does) and ``auto_now``/``auto_now_add`` fields (now). No signals, no ``save()``: only
    for seeding plain rows. Returns the number of rows inserted.
    """
    from django.db import connection
    from django.db.models import DateField, JSONField
    from django.utils import timezone

    if not objects:
        return 0
    now = timezone.now()
    auto = {f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
    # Columns left NULL in every row are left out: fewer values to quote and send (their default is NULL).
    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and (f.attname in auto or any(getattr(obj, f.attname) is not None for obj in objects))
    ]
    ops = connection.ops

    def converter(field: Any) -> Any:
        if isinstance(field, JSONField):
            return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
        if isinstance(field, DateField) and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
            return lambda value: ops.adapt_datetimefield_value(value or now)
        if field.get_internal_type() == "DateTimeField":
            return ops.adapt_datetimefield_value
        return None

    converters = [(f.attname, converter(f)) for f in fields]
    rows = [
        tuple(convert(getattr(obj, attname)) if convert else getattr(obj, attname) for attname, convert in converters)
        for obj in objects
    ]
    quote = ops.quote_name
    # Table and column names come from the model and are quoted; values are parameters.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])
    return len(rows)


def seed(*, users: int, trades: int, recommendations: int, session_users: int, prices_dir: str | None) -> dict[str, Any]:
    """Fill the (migrated, empty) database; return counts, timings and the load generator's credentials."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.test import Client, RequestFactory
    from knox.models import AuthToken

    from accounts.models import OnboardingStage, RiskTolerance, User
    from accounts.sessions import session_store, user_session_start
    from benchmarks.seeding import ledger_rows, seed_closes
    from insights.recommendation_stats import recommendation_statistics_refresh
    from market import calendar
    from market.symbols import TRADABLE
    from portfolios.models import CashAccount, Position, Trade
    from portfolios.services import portfolio_snapshots_refresh, positions_revalue
    from recommendations.models import Recommendation, RecommendationStatus

    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = random.Random(SEED)  # benchmark data, not security
    days, by_day, prices = seed_closes(prices_dir, rng)
    timings["prices_s"] = time.perf_counter() - started

    started = time.perf_counter()
    password = make_password(PASSWORD)  # one hash for all: hashing 1,000 times is not what we measure
    names = [f"{USER_PREFIX}{i:04d}" for i in range(users)]
    tolerances = list(RiskTolerance.values)
    User.objects.bulk_create(
        [
            User(username=name, email=f"{name}@example.com", password=password, onboarding_stage=OnboardingStage.ACTIVE,
                 risk_tolerance=tolerances[i % len(tolerances)])
            for i, name in enumerate(names)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    ids = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
    per_user_trades = max(trades // max(users, 1), 1)
    latest_day = calendar.latest_completed_session()
    schedule = rec_days(latest_day, max(recommendations // max(users * len(TRADABLE), 1), 1))
    closes = {symbol: by_day[days[-1]][symbol] for symbol in TRADABLE}

    trade_rows = rec_rows = 0
    cash_rows: list[CashAccount] = []
    position_rows: list[Position] = []
    with transaction.atomic():
        pending_trades: list[Trade] = []
        pending_recs: list[Recommendation] = []
        for name in names:
            uid = ids[name]
            ledger, state = ledger_rows(uid, per_user_trades, days, by_day, rng)
            pending_trades += ledger
            cash_rows.append(CashAccount(user_id=uid, balance=state.cash, net_deposits=state.net_deposits))
            position_rows += [
                Position(user_id=uid, symbol=p.symbol, position_type=p.direction.value, shares=p.shares,
                         avg_purchase_price=p.avg_price, realized_pnl=p.realized_pnl, purchase_date=p.opened_on)
                for p in state.positions.values()
            ]  # fmt: skip
            held = {p.symbol: p.shares for p in state.positions.values() if p.direction.value == "LONG"}
            pending_recs += recommendation_rows(
                user_id=uid, days=schedule, closes=closes, cash=state.available_cash, held=held, rng=rng
            )
            if len(pending_trades) >= 20_000:
                trade_rows += fast_insert(Trade, pending_trades)
                pending_trades = []
            if len(pending_recs) >= 20_000:
                rec_rows += fast_insert(Recommendation, pending_recs)
                pending_recs = []
        trade_rows += fast_insert(Trade, pending_trades)
        rec_rows += fast_insert(Recommendation, pending_recs)
        CashAccount.objects.bulk_create(cash_rows, batch_size=BATCH)
        Position.objects.bulk_create(position_rows, batch_size=BATCH)
    positions_revalue()
    timings["rows_s"] = time.perf_counter() - started

    # What the worker does after the close: every investor's analytics snapshot (the rows were bulk-inserted,
    # so no ledger write queued one).
    started = time.perf_counter()
    snapshots = portfolio_snapshots_refresh()
    timings["snapshots_s"] = time.perf_counter() - started
    # ... and, once the day's cards and scores are written, every investor's recommendation statistics.
    started = time.perf_counter()
    recommendation_stats = recommendation_statistics_refresh()
    timings["recommendation_stats_s"] = time.perf_counter() - started

    started = time.perf_counter()
    user_rows = list(User.objects.filter(username__in=names).order_by("username"))
    tokens = {user.pk: AuthToken.objects.create(user=user)[1] for user in user_rows}
    sessions: dict[int, str] = {}
    for user in user_rows[:session_users]:
        browser = Client(SERVER_NAME="127.0.0.1")
        browser.force_login(user)
        key = browser.cookies[settings.SESSION_COOKIE_NAME].value
        # What the sign-in response's middleware records (timestamps in the session, a UserSession row), so the
        # run's first page of each session is an ordinary page, not the end of a sign-in.
        request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1")
        request.session = session_store(key)
        user_session_start(request=request, user=user)
        request.session.save()
        sessions[user.pk] = key
    timings["credentials_s"] = time.perf_counter() - started

    pending = Recommendation.objects.filter(status=RecommendationStatus.PENDING, trading_date=latest_day)
    return {
        "users": User.objects.filter(username__in=names).count(),
        "trades": Trade.objects.exclude(side__in=["DEPOSIT", "WITHDRAW"]).count(),
        "ledger_rows": trade_rows,
        "positions": Position.objects.count(),
        "snapshots": snapshots,
        "recommendation_stats": recommendation_stats,
        "recommendations": Recommendation.objects.count(),
        "recommendation_rows": rec_rows,
        "pending": pending.count(),
        "recommendation_days": f"{schedule[0].trading_date}..{schedule[-1].trading_date}",
        "prices": prices,
        **timings,
        "credentials": {
            "session_cookie": settings.SESSION_COOKIE_NAME,
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "password": PASSWORD,
            "users": [
                {"username": user.username, "token": tokens[user.pk], "session": sessions.get(user.pk, "")} for user in user_rows
            ],
            "pending": [
                {"username": username, "id": pk, "type": kind}
                for pk, username, kind in pending.order_by("id").values_list("id", "user__username", "recommendation_type")
            ],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Seed the load benchmark's own database (it must be empty).")
    parser.add_argument("--database", required=True, help="the database name DATABASE_URL must name")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--trades", type=int, required=True)
    parser.add_argument("--recommendations", type=int, required=True)
    parser.add_argument("--session-users", type=int, required=True)
    parser.add_argument("--prices-dir")
    parser.add_argument("--credentials-out", required=True, help="where to write the load generator's credentials (JSON)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from benchmarks.support import print_result

    if settings.DATABASES["default"]["NAME"] != args.database:
        raise SystemExit(f"refusing to seed: DATABASE_URL must name the benchmark's own database {args.database!r}")
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrate_s = time.perf_counter() - started
    started = time.perf_counter()
    # The server runs with production settings (manifest static files): pages need collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    static_s = time.perf_counter() - started
    result = seed(
        users=args.users,
        trades=args.trades,
        recommendations=args.recommendations,
        session_users=args.session_users,
        prices_dir=args.prices_dir,
    )
    Path(args.credentials_out).write_text(json.dumps(result.pop("credentials")))
    print_result({**result, "migrate_s": migrate_s, "collectstatic_s": static_s})


if __name__ == "__main__":
    main()
