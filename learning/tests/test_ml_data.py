from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from learning.ml.data import (
    PRICE_COLUMNS,
    BarsError,
    adjusted,
    load_csv_dir,
    load_csv_dirs,
    panel_from_long,
    panel_to_long,
    trading_calendar,
    truncate,
)
from learning.tests.ml_synthetic import synthetic_bars, synthetic_panel


def _write(directory: Path, symbol: str, frame: pd.DataFrame) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    frame.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d"))[["date", *PRICE_COLUMNS]].to_csv(
        directory / f"{symbol}.csv", index=False
    )


def test_csv_directory_loads_into_a_float_panel_indexed_by_date(tmp_path: Path) -> None:
    panel = synthetic_panel(50)
    for sym, frame in panel.items():
        _write(tmp_path, sym, frame)
    loaded = load_csv_dir(tmp_path)
    assert sorted(loaded) == sorted(panel)
    for sym, frame in loaded.items():
        assert frame.index.name == "date"
        assert frame.index.is_monotonic_increasing
        assert list(frame.columns) == list(PRICE_COLUMNS)
        assert all(dtype == np.float64 for dtype in frame.dtypes)
        np.testing.assert_allclose(frame.to_numpy(), panel[sym].to_numpy(), rtol=1e-12)


def test_requested_symbol_without_a_file_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "AAPL", synthetic_bars(10, seed=1))
    with pytest.raises(BarsError, match="NVDA"):
        load_csv_dir(tmp_path, symbols=["AAPL", "NVDA"])


def test_duplicate_dates_are_refused(tmp_path: Path) -> None:
    bars = synthetic_bars(10, seed=1)
    _write(tmp_path, "AAPL", pd.concat([bars, bars.iloc[[3]]]))
    with pytest.raises(BarsError, match="duplicate"):
        load_csv_dir(tmp_path)


def test_non_positive_prices_are_refused() -> None:
    bars = synthetic_bars(10, seed=1).reset_index()
    bars.loc[4, "close"] = 0.0
    with pytest.raises(BarsError, match="positive"):
        panel_from_long(bars.assign(symbol="AAPL"))


def test_later_directories_extend_earlier_ones_and_win_on_shared_dates(tmp_path: Path) -> None:
    bars = synthetic_bars(30, seed=3)
    _write(tmp_path / "old", "AAPL", bars.iloc[:20])
    newer = bars.iloc[15:].copy()
    newer["close"] = newer["close"] * 2
    _write(tmp_path / "new", "AAPL", newer)
    loaded = load_csv_dirs([tmp_path / "old", tmp_path / "new"], symbols=["AAPL"])["AAPL"]
    assert len(loaded) == 30
    np.testing.assert_allclose(loaded["close"].iloc[:15], bars["close"].iloc[:15])
    np.testing.assert_allclose(loaded["close"].iloc[15:], bars["close"].iloc[15:] * 2)


def test_long_frame_with_decimals_and_dates_round_trips() -> None:
    panel = synthetic_panel(40)
    long = panel_to_long(panel)
    as_django = long.assign(
        date=long["date"].dt.date,
        close=long["close"].map(lambda v: Decimal(f"{v:.4f}")),
        volume=long["volume"].astype("int64"),
    )
    back = panel_from_long(as_django)
    assert sorted(back) == sorted(panel)
    for sym, frame in back.items():
        assert frame.index.equals(panel[sym].index.rename("date"))
        np.testing.assert_allclose(frame["close"], panel[sym]["close"], atol=5e-5)
        np.testing.assert_allclose(frame["open"], panel[sym]["open"], rtol=1e-12)


def test_missing_adj_close_means_already_adjusted() -> None:
    bars = synthetic_bars(5, seed=2).reset_index().drop(columns="adj_close").assign(symbol="AAPL")
    frame = panel_from_long(bars)["AAPL"]
    np.testing.assert_array_equal(frame["adj_close"], frame["close"])


def test_adjustment_rescales_ohlc_by_the_adjusted_close_ratio() -> None:
    bars = synthetic_bars(5, seed=2)
    bars["adj_close"] = bars["close"] / 4
    out = adjusted(bars)
    for col in ("open", "high", "low", "close"):
        np.testing.assert_allclose(out[col], bars[col] / 4)
    np.testing.assert_array_equal(out["volume"], bars["volume"])


def test_truncate_keeps_bars_up_to_and_including_the_cut() -> None:
    panel = synthetic_panel(60)
    cut = panel["AAPL"].index[30]
    short = truncate(panel, cut)
    assert all(frame.index.max() <= cut for frame in short.values())
    assert short["AAPL"].index.max() == cut
    assert len(trading_calendar(short)) == 31


def test_real_price_files_load_as_documented(shared_prices_dir: Path) -> None:
    panel = load_csv_dir(shared_prices_dir)
    assert sorted(panel) == ["AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY"]
    assert len(panel["AAPL"]) == 4587
    assert panel["META"].index.min() == pd.Timestamp("2012-05-18")
    assert panel["SPY"].index.max() == pd.Timestamp("2023-12-29")


def test_importing_the_data_and_feature_modules_does_not_load_heavy_libraries() -> None:
    import subprocess

    code = (
        "import sys, learning.ml.data, learning.ml.features, learning.ml.labels, learning.ml.dataset, "
        "learning.ml.validation, learning.ml.models\n"
        "heavy = [m for m in ('torch', 'xgboost', 'sklearn', 'django') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert result.stdout.strip() == ""
