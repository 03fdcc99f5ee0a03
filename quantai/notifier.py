"""Live updates to a user's open browsers: the one place that talks to the channel layer.

Every message type the browser can receive is declared here as a TypedDict, and every sender
goes through :func:`notify_user`, never through ad-hoc ``group_send`` calls. Messages are sent
after the surrounding transaction commits, so a browser never hears of a row that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class PriceUpdate(TypedDict):
    symbol: str
    date: str
    close: str


class JobProgress(TypedDict):
    job: str
    job_id: str
    done: int
    total: int
    status: Literal["running", "finished", "failed"]


class RecommendationNew(TypedDict):
    recommendation_id: int
    symbol: str
    action: Literal["BUY", "SELL", "HOLD"]


class RiskAlertMessage(TypedDict):
    """A stop loss or take profit was crossed (``portfolios.alerts``); money and prices as decimal strings."""

    alert_id: int
    position_id: int | None
    symbol: str
    kind: Literal["stop_loss", "take_profit"]
    level: str
    trigger_price: str
    price_date: str | None
    exit_side: Literal["SELL", "COVER"]
    exit_shares: str
    status: Literal["open", "auto_executed"]
    trade_id: int | None


# Channel-layer type (dots become underscores for the consumer's handler name) -> payload shape.
MESSAGE_TYPES: dict[str, type] = {
    "price.update": PriceUpdate,
    "job.progress": JobProgress,
    "recommendation.new": RecommendationNew,
    "risk.alert": RiskAlertMessage,
}

LiveMessageType = Literal["price.update", "job.progress", "recommendation.new", "risk.alert"]


#: The channel-layer group every open browser joins besides its user's: market-wide messages (prices).
BROADCAST_GROUP = "broadcast"


def user_group(user_id: int) -> str:
    """The channel-layer group that every open browser of ``user_id`` joins."""
    return f"user.{int(user_id)}"


def _send_on_commit(group: str, message_type: str, payload: Mapping[str, object], who: str) -> None:
    if message_type not in MESSAGE_TYPES:
        raise ValueError(f"unknown live message type {message_type!r}")

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, {"type": message_type, "payload": dict(payload)})
        except (OSError, ConnectionError, RedisError) as exc:  # redis-py's ConnectionError is no OSError
            logger.warning("live push to %s failed: %s", who, exc)

    transaction.on_commit(send)


def notify_session_ended(session_key: str) -> None:
    """Close every socket the browser session ``session_key`` opened, once the current transaction commits.

    Sent when a session ends (``quantai.live_sessions``); the consumer closes with 4401, so the page
    stops retrying. Best effort like the rest: the consumer re-checks its session before forwarding
    private messages, so a lost ``session.end`` never lets one through.
    """
    from quantai.live_sessions import session_group

    group = session_group(session_key)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, {"type": "session.end"})
        except (OSError, ConnectionError, RedisError) as exc:
            logger.warning("closing the sockets of an ended session failed: %s", exc)

    transaction.on_commit(send)


def notify_all(message_type: Literal["price.update"], payload: PriceUpdate) -> None:
    """Push a market-wide ``payload`` to every open browser (one send to :data:`BROADCAST_GROUP`), after commit.

    Best effort, like :func:`notify_user`.
    """
    _send_on_commit(BROADCAST_GROUP, message_type, payload, "all browsers")


def notify_user(
    user_id: int, message_type: LiveMessageType, payload: PriceUpdate | JobProgress | RecommendationNew | RiskAlertMessage
) -> None:
    """Push ``payload`` to every open browser of ``user_id`` once the current transaction commits.

    Live push is best effort: if the channel layer is unreachable the failure is logged and the
    caller carries on (the page shows the same data on its next load).
    """
    _send_on_commit(user_group(user_id), message_type, payload, f"user {user_id}")
