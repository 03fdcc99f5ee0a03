"""``price.update`` live messages after a refresh stores new bars.

Prices are the same for everyone, so one message per changed symbol goes to the broadcast group
that every open browser joins (``quantai.notifier.notify_all``), not one per user. Sending is
best effort and happens after the surrounding transaction commits (the notifier sees to both).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from market.selectors import LatestPrice

logger = logging.getLogger(__name__)


def changed_prices(before: Sequence[LatestPrice], after: Sequence[LatestPrice]) -> list[LatestPrice]:
    """The latest prices in ``after`` whose date or close differ from ``before`` (new symbols included)."""
    old = {price.symbol: (price.date, price.close) for price in before}
    return [price for price in after if old.get(price.symbol) != (price.date, price.close)]


def price_updates_push(prices: Sequence[LatestPrice]) -> int:
    """Push one ``price.update`` per price to every connected browser; how many messages were handed over."""
    if not prices:
        return 0
    from quantai import notifier

    notify_all = getattr(notifier, "notify_all", None)
    if notify_all is None:
        # The broadcast helper is wired in quantai.notifier separately; until then prices show on reload.
        logger.info("price.update not pushed: quantai.notifier has no notify_all broadcast helper")
        return 0
    for price in prices:
        notify_all("price.update", {"symbol": price.symbol, "date": price.date.isoformat(), "close": str(price.close)})
    return len(prices)
