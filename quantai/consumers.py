"""The per-user live websocket at ``/ws/live/``.

It accepts only authenticated sessions that are still valid (the origin check sits in ``asgi.py``),
joins only the caller's own group, the group of the session that opened it and the broadcast group
of market-wide messages (prices), and forwards each message type declared in :mod:`quantai.notifier`
as ``{"type": ..., "data": ...}`` JSON.

A socket lives no longer than its session (:mod:`quantai.live_sessions`): ``session.end`` closes
it, private messages are forwarded only after the session is re-checked, and a timer re-checks it
when the idle or absolute timeout would end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from quantai.live_sessions import LiveSession, live_session_state, session_group
from quantai.notifier import BROADCAST_GROUP, user_group

# Close code for "not signed in" (4000-4999 are free for applications); the page stops retrying on it.
CLOSE_UNAUTHENTICATED = 4401
#: The session that opened the socket ended (sign-out, revocation, password change, timeout): as 4401.
CLOSE_SESSION_ENDED = CLOSE_UNAUTHENTICATED
#: WebSocket's "try again later": the channel layer (Redis) is unreachable; the page shows its banner and retries.
CLOSE_TRY_AGAIN_LATER = 1013


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: tuple[str, ...] = ()
    user_id: int | None = None
    session_key: str | None = None
    ended = False
    checked_at = 0.0
    watchdog: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        session_key = getattr(session, "session_key", None)
        if user is None or not user.is_authenticated or not user.is_active or not session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id, self.session_key = user.pk, session_key
        groups = (user_group(user.pk), BROADCAST_GROUP, session_group(session_key))
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
        except (OSError, ConnectionError, RedisError):
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        self.joined = groups
        # Checked after joining the session's group: a session that ends from now on is heard of.
        state = await self._session_state()
        if state is None:
            await self._end()
            return
        await self.accept()
        self.watchdog = asyncio.ensure_future(self._watch(state))

    async def disconnect(self, code: int) -> None:
        if self.watchdog is not None and self.watchdog is not asyncio.current_task():
            self.watchdog.cancel()
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The socket is push-only: whatever the browser sends, JSON or not, is ignored unread (the JSON
        # consumer's own receive would decode it first, and a frame that is not JSON closed the socket).
        return None

    # --- the session behind the socket --------------------------------------------------------------

    async def _session_state(self) -> LiveSession | None:
        if self.session_key is None or self.user_id is None:
            return None
        state: LiveSession | None = await database_sync_to_async(live_session_state)(self.session_key, self.user_id)
        self.checked_at = time.monotonic()
        return state

    async def _watch(self, state: LiveSession) -> None:
        """Re-check the session when its timeout would end it (and every ``LIVE_SESSION_CHECK_SECONDS``)."""
        while True:
            await asyncio.sleep(max(state.expires_at - time.time(), 0.0) + 0.05)
            if self.ended:
                return
            next_state = await self._session_state()
            if next_state is None:
                await self._end()
                return
            state = next_state

    async def _end(self) -> None:
        """The session is over: close with 4401 and stop hearing anything."""
        if self.ended:
            return
        self.ended = True
        await self._leave()
        await self.close(code=CLOSE_SESSION_ENDED)

    async def _leave(self) -> None:
        joined, self.joined = self.joined, ()
        with contextlib.suppress(OSError, ConnectionError, RedisError):
            # Unreachable layer: it forgets group members on its own (group expiry) once it is back.
            for group in joined:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def session_end(self, event: dict[str, Any]) -> None:
        await self._end()

    # --- messages to the browser ----------------------------------------------------------------------

    async def _forward(self, event: dict[str, Any], *, private: bool = True) -> None:
        if self.ended:
            return
        recheck_after = float(settings.LIVE_SESSION_RECHECK_SECONDS)
        due = private or time.monotonic() - self.checked_at >= recheck_after
        if due and await self._session_state() is None:
            await self._end()
            return
        await self.send_json({"type": event["type"], "data": event["payload"]})

    async def price_update(self, event: dict[str, Any]) -> None:
        await self._forward(event, private=False)

    async def job_progress(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def recommendation_new(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def risk_alert(self, event: dict[str, Any]) -> None:
        await self._forward(event)
