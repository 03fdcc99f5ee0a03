"""Against the real services production runs on: MariaDB, Redis, a Celery worker process.

``mysql`` tests run in the suite's MariaDB pass (``DATABASE_URL=mysql://...``) and skip, by
configuration, on SQLite. The Redis and worker tests point the app at the test Redis
(``redis_url``), so they run in both passes; with ``REQUIRE_LIVE_SERVICES=1`` a missing service
fails them instead of skipping (see the root conftest). The websocket behaviour is checked on
both the Redis channel layer and the in-memory one, so the plain SQLite pass covers the consumer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from celery import Celery
from django.contrib.auth import get_user_model
from django.db import DataError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from market.models import PriceBar
from quantai.consumers import CLOSE_UNAUTHENTICATED
from quantai.notifier import notify_user
from quantai.tests.live import PASSWORD, QUIET, LiveSocket, signed_in_cookie, wait_until_worker_answers

ROOT = Path(__file__).resolve().parents[2]


# --- MariaDB -------------------------------------------------------------------------------------


@pytest.mark.mysql
@pytest.mark.django_db
def test_mariadb_database_is_fully_migrated_strict_and_utf8mb4():
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode, @@character_set_connection, @@character_set_database")
        sql_mode, connection_charset, database_charset = cursor.fetchone()
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME IN ('users', 'market_pricebar')"
        )
        collations = dict(cursor.fetchall())

    assert connection.vendor == "mysql"
    assert unapplied == []
    assert "STRICT_TRANS_TABLES" in sql_mode
    assert connection_charset == "utf8mb4"
    assert database_charset == "utf8mb4"
    assert set(collations) == {"users", "market_pricebar"}
    assert all(collation.startswith("utf8mb4") for collation in collations.values()), collations


@pytest.mark.mysql
@pytest.mark.django_db
def test_prices_and_money_round_trip_exactly_through_mariadb():
    User = get_user_model()
    bar = PriceBar.objects.create(
        symbol="NVDA",
        date=date(2024, 6, 3),
        open=Decimal("123456.7891"),
        high=Decimal("123999.9999"),
        low=Decimal("0.0001"),
        close=Decimal("123456.7891"),
        adj_close=Decimal("9999999999.9999"),  # the largest value (14, 4) holds
        volume=9_007_199_254_740_993,  # 2**53 + 1: would not survive a float
        source="csv",
    )
    user = User.objects.create_user(
        username="decimal-investor",
        password=PASSWORD,
        portfolio_value=Decimal("1234567890123.45"),
        total_pnl=Decimal("-9876543210.99"),
    )

    stored_bar = PriceBar.objects.get(pk=bar.pk)
    stored_user = User.objects.get(pk=user.pk)

    # str() also compares the scale: "123456.7891" must not come back as a float-ish 123456.789100001.
    assert {f: str(getattr(stored_bar, f)) for f in ("open", "high", "low", "close", "adj_close")} == {
        "open": "123456.7891",
        "high": "123999.9999",
        "low": "0.0001",
        "close": "123456.7891",
        "adj_close": "9999999999.9999",
    }
    assert stored_bar.volume == 9_007_199_254_740_993
    assert isinstance(stored_bar.close, Decimal)
    assert str(stored_user.portfolio_value) == "1234567890123.45"
    assert str(stored_user.total_pnl) == "-9876543210.99"


def _price_bar(**overrides: Any) -> PriceBar:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "date": date(2024, 6, 3),
        "open": Decimal("190.0000"),
        "high": Decimal("195.0000"),
        "low": Decimal("189.0000"),
        "close": Decimal("194.0300"),
        "adj_close": Decimal("194.0300"),
        "volume": 50_080_500,
        "source": "csv",
    }
    fields.update(overrides)
    return PriceBar.objects.create(**fields)


@pytest.mark.mysql
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "field", "too_big"),
    [
        ("pricebar", "close", Decimal("12345678901.0000")),  # 11 integer digits; the column holds 10
        ("user", "portfolio_value", Decimal("12345678901234.00")),  # 14 integer digits; the column holds 13
        ("user", "first_name", "x" * 151),  # max_length is 150
    ],
)
def test_mariadb_rejects_a_value_too_big_for_its_column_instead_of_truncating_it(model, field, too_big):
    if model == "pricebar":
        row = _price_bar()
    else:
        row = get_user_model().objects.create_user(username="overflow-investor", password=PASSWORD)
    original = getattr(row, field)
    setattr(row, field, too_big)

    # The value goes to the database unchecked (no full_clean): strict mode is what stops it.
    with pytest.raises(DataError) as raised, transaction.atomic():
        row.save(update_fields=[field])

    assert "Out of range" in str(raised.value) or "Data too long" in str(raised.value)
    row.refresh_from_db()
    assert getattr(row, field) == original


@pytest.mark.mysql
@pytest.mark.django_db
def test_emoji_round_trip_through_mariadb_utf8mb4():
    User = get_user_model()
    name = "Ada 🚀📈"
    preferences = {"note": "to the moon 🚀", "flags": ["🇺🇸", "💹"], "nested": {"emoji": "🧠"}}
    user = User.objects.create_user(username="emoji-investor", password=PASSWORD, first_name=name, preferences=preferences)

    stored = User.objects.get(pk=user.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT CHAR_LENGTH(first_name), LENGTH(first_name) FROM users WHERE id = %s", [user.pk])
        characters, octets = cursor.fetchone()

    assert stored.first_name == name
    assert stored.preferences == preferences
    assert User.objects.filter(first_name__contains="🚀").get() == user
    # Stored as real 4-byte characters: 4 ASCII + two 4-byte emoji.
    assert (characters, octets) == (6, 12)


# --- a real Celery worker through Redis -------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_process_runs_a_task_sent_through_redis(redis_url, tmp_path):
    # A queue of its own, so this worker never takes tasks that other tests or other runs sharing
    # this Redis left on "default", and no other worker takes ours.
    queue = f"live-test-{uuid4().hex[:12]}"
    nodename = f"{queue}@{socket.gethostname()}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "False",
        "PYTHONUNBUFFERED": "1",
    }
    client = Celery("quantai-live-test", broker=redis_url, backend=redis_url, set_as_current=False)
    client.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"])
    log = tmp_path / "worker.log"
    value = uuid4().hex
    command = [sys.executable, "-m", "celery", "-A", "quantai", "worker", "--pool", "solo", "-Q", queue, "-n", nodename, *QUIET]

    with log.open("wb") as log_file:
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_worker_answers(client, nodename, worker, log)
            result = client.send_task("quantai.ping", args=[value], queue=queue)
            reply = result.get(timeout=30)
            result.forget()
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
            client.close()

    assert reply == {"pong": value, "worker": nodename}


# --- live updates over the channel layer -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_price_update_reaches_the_signed_in_users_open_browser(channel_layer):
    user, cookie = signed_in_cookie("live-alice")
    payload = {"symbol": "NVDA", "date": "2024-06-03", "close": "1150.0000"}

    async def scenario() -> Any:
        browser = LiveSocket(cookie)
        connected, _ = await browser.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(notify_user)(user.pk, "price.update", payload)
            return await browser.receive_json_from(timeout=5)
        finally:
            await browser.disconnect()

    assert async_to_sync(scenario)() == {"type": "price.update", "data": payload}


@pytest.mark.django_db(transaction=True)
def test_a_price_refresh_pushes_the_new_close_to_every_signed_in_browser(channel_layer):
    from datetime import UTC, datetime

    from market.refresh import prices_refresh
    from market.tests.fakes import FaultyProvider

    _, alice = signed_in_cookie("live-price-alice")
    _, bob = signed_in_cookie("live-price-bob")
    now = datetime(2024, 6, 14, 21, 0, tzinfo=UTC)
    day = date(2024, 6, 14)

    async def scenario() -> list[Any]:
        browsers = [LiveSocket(alice), LiveSocket(bob)]
        for browser in browsers:
            connected, _ = await browser.connect(timeout=5)
            assert connected
        try:
            await sync_to_async(prices_refresh)(provider=FaultyProvider(today=now), start=day, end=day, now=now, symbols=["NVDA"])
            return [await browser.receive_json_from(timeout=5) for browser in browsers]
        finally:
            for browser in browsers:
                await browser.disconnect()

    messages = async_to_sync(scenario)()

    close = PriceBar.objects.get(symbol="NVDA", date=day).close
    expected = {"type": "price.update", "data": {"symbol": "NVDA", "date": "2024-06-14", "close": str(close)}}
    assert messages == [expected, expected]


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_websocket_is_closed_as_unauthenticated(channel_layer):
    async def scenario() -> tuple[bool, Any]:
        return await LiveSocket(cookie=None).connect(timeout=5)

    connected, code = async_to_sync(scenario)()

    assert not connected
    assert code == CLOSE_UNAUTHENTICATED == 4401


@pytest.mark.django_db(transaction=True)
def test_a_websocket_from_a_foreign_origin_is_rejected_even_when_signed_in(channel_layer):
    _, cookie = signed_in_cookie("live-origin")

    async def scenario() -> tuple[tuple[bool, Any], tuple[bool, Any]]:
        foreign = await LiveSocket(cookie, origin=b"https://evil.example").connect(timeout=5)
        own = LiveSocket(cookie)
        allowed = await own.connect(timeout=5)
        await own.disconnect()
        return foreign, allowed

    (foreign_connected, _), (own_connected, _) = async_to_sync(scenario)()

    assert not foreign_connected
    assert own_connected  # the same cookie from the site's own origin is accepted


@pytest.mark.django_db(transaction=True)
def test_a_user_never_receives_another_users_messages(channel_layer):
    alice, alice_cookie = signed_in_cookie("live-alice")
    bob, bob_cookie = signed_in_cookie("live-bob")
    for_bob = {"job": "backtest", "job_id": "b-1", "done": 3, "total": 10, "status": "running"}
    for_alice = {"recommendation_id": 7, "symbol": "AAPL", "action": "BUY"}

    async def scenario() -> tuple[Any, Any, bool]:
        alice_browser, bob_browser = LiveSocket(alice_cookie), LiveSocket(bob_cookie)
        assert (await alice_browser.connect(timeout=5))[0]
        assert (await bob_browser.connect(timeout=5))[0]
        try:
            await sync_to_async(notify_user)(bob.pk, "job.progress", for_bob)
            bob_got = await bob_browser.receive_json_from(timeout=5)
            await sync_to_async(notify_user)(alice.pk, "recommendation.new", for_alice)
            # Had Bob's message reached Alice too, it would arrive before her own.
            alice_got = await alice_browser.receive_json_from(timeout=5)
            bob_has_more = not await bob_browser.receive_nothing(timeout=0.5)
        finally:
            await alice_browser.disconnect()
            await bob_browser.disconnect()
        return bob_got, alice_got, bob_has_more

    bob_got, alice_got, bob_has_more = async_to_sync(scenario)()

    assert bob_got == {"type": "job.progress", "data": for_bob}
    assert alice_got == {"type": "recommendation.new", "data": for_alice}
    assert not bob_has_more
