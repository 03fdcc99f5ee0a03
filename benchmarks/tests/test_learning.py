"""The ``learning`` benchmark section: registered, skips without data, and its child process measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.registry import BenchmarkContext, SectionSkipped, all_sections, discover
from learning.factories import TINY_MODEL_PARAMS
from learning.tests.ml_synthetic import synthetic_panel


def test_the_section_is_registered() -> None:
    discover()
    assert "learning" in all_sections()


def test_the_section_skips_without_price_files(tmp_path: Path) -> None:
    discover()
    section = all_sections()["learning"]
    with pytest.raises(SectionSkipped, match="no price CSVs"):
        section.func(BenchmarkContext(options={"prices_dir": str(tmp_path)}))


def test_the_child_process_reports_training_prediction_and_memory_figures(tmp_path: Path) -> None:
    from benchmarks.sections.learning import probe

    for symbol, frame in synthetic_panel(1300, seed=3).items():
        frame.reset_index().to_csv(tmp_path / f"{symbol}.csv", index=False, date_format="%Y-%m-%d")

    measured = probe(str(tmp_path), ["xgb"], params={"xgb": TINY_MODEL_PARAMS["xgb"]})

    assert set(measured["train_seconds"]) == {"xgb", "ensemble"}
    assert measured["rows"] > 0 and measured["kinds"] == ["xgb"]
    for name in ("predict_5_symbols_ms", "features_and_predict_5_symbols_ms"):
        assert 0 < measured[name]["median"] <= measured[name]["p95"]
    assert measured["artifact_mib"] > 0 and measured["peak_rss_mib"] > 0
