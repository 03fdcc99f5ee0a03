"""Plausibility checks of a refresh's bars against what is already stored. No Django.

:func:`market.providers.base.clean_bars` rejects bars that are impossible on their own (high below
low, a non-positive price, a close outside [low, high]). A bar can pass that and still be wrong
in context; these checks catch the ways a live feed goes wrong in practice:

- a bar dated after "today" (:class:`ImplausibleDataError`, kind ``future_date``);
- a close more than :data:`MAX_DAILY_MOVE` away from the close before it, or from the stored bar
  of the same date, with no split reported by the provider on the way (kind ``implausible``);
- the provider has not published a session that should be out by now, or sends the previous
  session's bar again under a new date (:class:`StaleDataError`).

Prices are compared as stored, to four decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from market.providers.base import SPLIT_DATES_ATTR, ProviderError

#: Largest believable close-to-close move without a split: 50 %. Real single-day moves of the
#: five stocks and SPY stay well inside it (META -26 % on 2022-02-03, NVDA +24 % on 2023-05-25).
MAX_DAILY_MOVE = 0.5


class StaleDataError(ProviderError):
    """The provider has nothing newer than what was due, or repeats an old bar under a new date."""

    kind = "stale"


class ImplausibleDataError(ProviderError):
    """Bars that parse but cannot be right: dated in the future, or an absurd jump. ``kind`` says which."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class StoredBar:
    """A bar already in the database. ``ohlc`` is ``None`` when only the close is known."""

    date: date
    close: float
    ohlc: tuple[float, float, float, float] | None = None


def _ohlc(row: pd.Series) -> tuple[float, float, float, float]:
    return tuple(round(float(row[column]), 4) for column in ("open", "high", "low", "close"))  # type: ignore[return-value]


def _move(before: float, after: float) -> float:
    return abs(after / before - 1.0)


def check_refresh_bars(
    frame: pd.DataFrame,
    *,
    source: str,
    stored: Sequence[StoredBar],
    today: date,
    due: date,
    max_move: float = MAX_DAILY_MOVE,
) -> None:
    """Raise if the freshly fetched ``frame`` (standard bars, see :mod:`market.providers.base`) is not believable.

    ``stored``: the symbol's stored bars around the frame's window, ascending; the last one before
    the frame's first date is the reference close for its first bar. ``today``: the caller's date
    (UTC), after which no bar can exist. ``due``: the latest session a provider must have
    published by now (the caller leaves a grace period after the close). Split dates come from
    ``frame.attrs["split_dates"]``: across a reported split, jumps and re-adjusted history are expected.
    """
    if frame.empty:
        raise StaleDataError(f"{source}: no bars at all in the window (expected bars up to {due})")
    days: list[date] = list(frame["date"])
    splits = sorted(frame.attrs.get(SPLIT_DATES_ATTR) or ())

    future = [d for d in days if d > today]
    if future:
        raise ImplausibleDataError(
            f"{source}: bar dated {future[0]}, after today ({today})"
            + (f" (and {len(future) - 1} more)" if len(future) > 1 else ""),
            kind="future_date",
        )

    by_date = {bar.date: bar for bar in stored}
    for i, day in enumerate(days):
        old = by_date.get(day)
        if old is None or any(split > day for split in splits):
            continue  # a split after this bar re-adjusts it: a different scale is expected
        close = float(frame["close"].iat[i])
        if _move(old.close, close) > max_move:
            raise ImplausibleDataError(
                f"{source}: {day} close {close:.4f} disagrees with the stored close {old.close:.4f} "
                f"by {_move(old.close, close):.0%} and no split was reported",
                kind="implausible",
            )

    earlier = [bar for bar in stored if bar.date < days[0]]
    previous: StoredBar | None = earlier[-1] if earlier else None
    for i, day in enumerate(days):
        close = float(frame["close"].iat[i])
        if previous is not None:
            # A split after the stored bar re-adjusts every fetched bar before it, the first one included.
            split_between = any(split > previous.date for split in splits) if i == 0 else day in splits
            if not split_between and _move(previous.close, close) > max_move:
                raise ImplausibleDataError(
                    f"{source}: {day} close {close:.4f} is {_move(previous.close, close):.0%} away from the "
                    f"close before it ({previous.date}: {previous.close:.4f}) and no split was reported",
                    kind="implausible",
                )
        previous = StoredBar(day, close, _ohlc(frame.iloc[i]))

    newest_stored = stored[-1].date if stored else None
    # Only bars newer than the stored ones can be a repeat; older ones are corrections or the same bar.
    for i in range(1, len(days)):
        if newest_stored is not None and days[i] <= newest_stored:
            continue
        if _ohlc(frame.iloc[i]) == _ohlc(frame.iloc[i - 1]):
            raise StaleDataError(f"{source}: the {days[i]} bar repeats the {days[i - 1]} bar (open, high, low and close)")
    last = stored[-1] if stored else None
    if last is not None and last.ohlc is not None and days[0] > last.date and _ohlc(frame.iloc[0]) == last.ohlc:
        raise StaleDataError(f"{source}: the {days[0]} bar repeats the stored {last.date} bar")

    if days[-1] < due:
        raise StaleDataError(f"{source}: the newest bar is {days[-1]}, but the {due} session should be published by now")
