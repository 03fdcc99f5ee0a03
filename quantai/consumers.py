"""The per-user live websocket at ``/ws/live/``.

It accepts only authenticated sessions (the origin check sits in ``asgi.py``), joins only the
caller's own group and the broadcast group of market-wide messages (prices), and forwards each
message type declared in :mod:`quantai.notifier` as ``{"type": ..., "data": ...}`` JSON.
"""

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from quantai.notifier import BROADCAST_GROUP, user_group

# Close code for "not signed in" (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401
#: WebSocket's "try again later": the channel layer (Redis) is unreachable; the page shows its banner and retries.
CLOSE_TRY_AGAIN_LATER = 1013


class LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.channel_layer.group_add(BROADCAST_GROUP, self.channel_name)
        except (OSError, ConnectionError, RedisError):
            self.group = None
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
                await self.channel_layer.group_discard(BROADCAST_GROUP, self.channel_name)
            except (OSError, ConnectionError, RedisError):
                pass  # the layer forgets group members on its own (group expiry) once it is back

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The socket is push-only: whatever the browser sends, JSON or not, is ignored unread (the JSON
        # consumer's own receive would decode it first, and a frame that is not JSON closed the socket).
        return None

    async def _forward(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": event["type"], "data": event["payload"]})

    async def price_update(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def job_progress(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def recommendation_new(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def risk_alert(self, event: dict[str, Any]) -> None:
        await self._forward(event)
