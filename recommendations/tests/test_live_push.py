"""Generating recommendations reaches each investor's open websocket, and only theirs.

Two browsers are connected through the real ASGI application (``/ws/live/``, session cookie, origin check);
generation runs with injected signals, as in ``test_generate``. Run on the in-memory channel layer and on
Redis (the production layer), like the other live-update tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.test import Client

from portfolios.factories import funded_investor
from quantai.tests.live import LiveSocket
from recommendations.factories import signal_batch
from recommendations.models import Recommendation
from recommendations.services import recommendations_generate
from recommendations.tests.conftest import make_market


def _browser_cookie(user: Any) -> bytes:
    browser = Client()
    browser.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.mark.django_db(transaction=True)
def test_a_generated_recommendation_reaches_its_owners_socket_and_no_one_elses(channel_layer, signal_day):
    make_market(signal_day)
    alice = funded_investor("10000.00", username="push-alice")
    bob = funded_investor("10000.00", username="push-bob")
    carol = funded_investor("10000.00", username="push-carol")  # connected, but gets no recommendation
    cookies = {u.username: _browser_cookie(u) for u in (alice, bob, carol)}

    def generate() -> Any:
        return recommendations_generate(
            date=signal_day, users=[alice, bob], signals=signal_batch(signal_day, {"NVDA": 0.72, "AAPL": 0.35})
        )

    async def scenario() -> tuple[list[Any], list[Any], bool, Any]:
        sockets = {name: LiveSocket(cookie) for name, cookie in cookies.items()}
        for socket in sockets.values():
            assert (await socket.connect(timeout=5))[0]
        try:
            result = await sync_to_async(generate)()
            # One card per stock: the two with a model signal and three from the risk-only policy.
            alice_got = [await sockets["push-alice"].receive_json_from(timeout=5) for _ in range(5)]
            bob_got = [await sockets["push-bob"].receive_json_from(timeout=5) for _ in range(5)]
            quiet = all(
                [
                    await sockets["push-alice"].receive_nothing(timeout=0.5),
                    await sockets["push-bob"].receive_nothing(timeout=0.1),
                    await sockets["push-carol"].receive_nothing(timeout=0.1),
                ]
            )
        finally:
            for socket in sockets.values():
                await socket.disconnect()
        return alice_got, bob_got, quiet, result

    alice_got, bob_got, quiet, result = async_to_sync(scenario)()

    assert result.created == 10
    for user, got in ((alice, alice_got), (bob, bob_got)):
        expected = {
            r.pk: {"recommendation_id": r.pk, "symbol": r.symbol, "action": r.recommendation_type}
            for r in Recommendation.objects.filter(user=user)
        }
        assert [m["type"] for m in got] == ["recommendation.new"] * 5
        assert {m["data"]["recommendation_id"]: m["data"] for m in got} == expected
    assert quiet  # no sixth message for anyone, nothing at all for Carol


@pytest.mark.django_db(transaction=True)
def test_nothing_is_pushed_when_generation_creates_nothing_new(channel_layer, signal_day):
    make_market(signal_day)
    alice = funded_investor("10000.00", username="push-again")
    batch = signal_batch(signal_day, {"META": 0.7})
    recommendations_generate(date=signal_day, users=[alice], signals=batch)
    cookie = _browser_cookie(alice)

    async def scenario() -> bool:
        socket = LiveSocket(cookie)
        assert (await socket.connect(timeout=5))[0]
        try:
            await sync_to_async(recommendations_generate)(date=signal_day, users=[alice], signals=batch)
            return await socket.receive_nothing(timeout=0.5)
        finally:
            await socket.disconnect()

    assert async_to_sync(scenario)()
