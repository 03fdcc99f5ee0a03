"""factory_boy factories and data helpers for the learning app (tests and the benchmark only)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

import factory
from django.utils import timezone

from learning.models import ModelKind, ModelStatus, ModelVersion, RunStatus, RunTrigger, TrainingRun
from market.symbols import ALL_SYMBOLS

#: Tiny models so tests train in a second or two (the production defaults are far larger).
TINY_MODEL_PARAMS: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 20, "min_samples_leaf": 20, "max_depth": 3, "n_jobs": 1},
    "xgb": {"n_estimators": 20, "learning_rate": 0.3, "min_child_weight": 5.0, "n_jobs": 1},
    "lstm": {"seq_len": 5, "hidden_size": 4, "max_epochs": 2, "patience": 1, "batch_size": 256, "val_gap": 10, "n_threads": 1},
}


class TrainingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRun

    trigger = RunTrigger.COMMAND
    status = RunStatus.QUEUED


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without an artifact file (``artifact_path`` points nowhere unless a test writes one)."""

    class Meta:
        model = ModelVersion

    kind = ModelKind.ENSEMBLE
    version = factory.Sequence(lambda n: n + 1)
    created_at = factory.LazyFunction(timezone.now)
    train_start = date(2018, 1, 2)
    train_end = date(2023, 12, 20)
    data_hash = factory.Sequence(lambda n: f"{n:064x}")
    features = factory.LazyFunction(lambda: ["ret_1", "ret_5"])
    hyperparameters = factory.LazyFunction(dict)
    library_versions = factory.LazyFunction(lambda: {"numpy": "test"})
    metrics = factory.LazyFunction(dict)
    artifact_path = factory.LazyAttribute(lambda v: f"{v.kind}/factory-{v.version}.bin")
    artifact_sha256 = "0" * 64
    format_version = 1
    status = ModelStatus.CANDIDATE
    active_slot = factory.LazyAttribute(lambda v: v.kind if v.status == ModelStatus.ACTIVE else None)


@functools.lru_cache(maxsize=8)
def _demo_rows(end: date, years: int, symbols: tuple[str, ...], seed: int) -> tuple[tuple[Any, ...], ...]:
    from market.providers.demo import DemoMarketProvider
    from market.services import quantise_price

    provider = DemoMarketProvider(seed=seed, today=end, history_years=years)
    rows = []
    for symbol in symbols:
        for bar in provider.fetch(symbol).itertuples(index=False):
            prices = tuple(quantise_price(v) for v in (bar.open, bar.high, bar.low, bar.close, bar.adj_close))
            rows.append((symbol, bar.date, *prices, int(bar.volume)))
    return tuple(rows)


def demo_bars_load(*, end: date, years: int, symbols: Iterable[str] = ALL_SYMBOLS, seed: int = 7) -> int:
    """Store ``years`` of the seeded synthetic demo market up to ``end`` (bulk insert; returns the bar count).

    Faster than ``market.services.prices_upsert`` (no per-bar comparison; generated bars are cached per
    process) and fine for an empty test database.
    """
    from market.models import PriceBar, PriceSource

    bars = [
        PriceBar(symbol=symbol, date=day, open=o, high=h, low=lo, close=c, adj_close=a, volume=v, source=PriceSource.DEMO)
        for symbol, day, o, h, lo, c, a, v in _demo_rows(end, years, tuple(symbols), seed)
    ]
    PriceBar.objects.bulk_create(bars, batch_size=1000)
    return len(bars)
