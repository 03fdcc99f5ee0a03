"""A price provider that misbehaves on request: the demo market with faults injected per symbol.

``faults`` maps a symbol to a fault name, or to a list of them consumed one per call (``None`` =
behave). Faults that produce impossible bars go through ``clean_bars`` like a real provider's
response, so the error raised is the one production would see.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pandas as pd
import requests

from market.providers.base import SPLIT_DATES_ATTR, clean_bars
from market.providers.demo import DemoMarketProvider

FaultSpec = str | list[str | None] | None


def _raw(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.copy().reset_index(drop=True)


def _timeout(frame: pd.DataFrame) -> pd.DataFrame:
    raise requests.ReadTimeout("read timed out (fake)")


def _connection(frame: pd.DataFrame) -> pd.DataFrame:
    raise requests.ConnectionError("connection refused (fake)")


def _last_row(change: Callable[[pd.DataFrame, int], None]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def apply(frame: pd.DataFrame) -> pd.DataFrame:
        raw = _raw(frame)
        change(raw, len(raw) - 1)
        return clean_bars(raw, source="fake")

    return apply


def _high_below_low(raw: pd.DataFrame, i: int) -> None:
    raw.loc[i, "high"] = raw.loc[i, "low"] - 1.0


def _non_positive(raw: pd.DataFrame, i: int) -> None:
    raw.loc[i, "close"] = 0.0


def _close_above_high(raw: pd.DataFrame, i: int) -> None:
    raw.loc[i, "close"] = raw.loc[i, "high"] * 1.1


def _jump(raw: pd.DataFrame, i: int) -> None:
    for column in ("open", "high", "low", "close", "adj_close"):
        raw.loc[i, column] = raw.loc[i, column] * 1.8


def _repeat(raw: pd.DataFrame, i: int) -> None:
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        raw.loc[i, column] = raw.loc[i - 1, column]


def _future(frame: pd.DataFrame) -> pd.DataFrame:
    raw = _raw(frame)
    extra = raw.iloc[[-1]].copy()
    extra["date"] = raw["date"].iat[-1] + timedelta(days=7)
    return clean_bars(pd.concat([raw, extra], ignore_index=True), source="fake")


def _drop_last(frame: pd.DataFrame) -> pd.DataFrame:
    return _raw(frame).iloc[:-1].reset_index(drop=True)


def _split(frame: pd.DataFrame) -> pd.DataFrame:
    """A 2-for-1 split on the last day, delivered split-adjusted: every bar halved, the split day flagged."""
    raw = _raw(frame)
    for column in ("open", "high", "low", "close", "adj_close"):
        raw[column] = raw[column] / 2
    raw["volume"] = raw["volume"] * 2
    raw.attrs[SPLIT_DATES_ATTR] = [raw["date"].iat[-1]]
    return raw


FAULTS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "timeout": _timeout,
    "connection": _connection,
    "high_below_low": _last_row(_high_below_low),
    "non_positive": _last_row(_non_positive),
    "close_above_high": _last_row(_close_above_high),
    "jump": _last_row(_jump),
    "repeat": _last_row(_repeat),
    "future": _future,
    "drop_last": _drop_last,
    "split": _split,
}


class FaultyProvider:
    """The demo market (``name`` stays ``"demo"``) with per-symbol faults; ``calls`` lists every fetched symbol."""

    def __init__(self, *, today: date | datetime, faults: dict[str, FaultSpec] | None = None, seed: int = 7, name: str = "demo"):
        self.inner = DemoMarketProvider(seed=seed, today=today)
        self.faults = dict(faults or {})
        self.name = name
        self.calls: list[str] = []

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        self.calls.append(symbol)
        frame = self.inner.fetch(symbol, start, end)
        fault = self.faults.get(symbol)
        if isinstance(fault, list):
            fault = fault.pop(0) if fault else None
        return frame if fault is None else FAULTS[fault](frame)
