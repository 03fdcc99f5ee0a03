"""Benchmark section ``learning``: the ensemble on the full real price history, in a child process.

The child (``python -m benchmarks.sections.learning --prices-dir DIR``) needs no database: it reads the CSVs, builds
the dataset and fits the production ensemble on every labelled row, as the nightly job does. Figures:

- ``train_<kind>_s``: the final fit of each base model on all rows; ``train_ensemble_s``: the whole ensemble
  (inner walk-forward of every base model, stacker, calibrator, final fits);
- ``predict_5_symbols_ms``: one day's P(up) for all five stocks with the fitted ensemble (features already
  computed), median and p95 over repeated calls, and each base model's share;
  ``features_and_predict_5_symbols_ms``: the same from a 300-session panel of bars, features included (what
  the predictor does after reading the bars);
- ``artifact_mib`` and ``artifact_verify_and_load_ms``: the saved ensemble, its sha256 check and load;
- ``peak_rss_mib``: the child's peak resident memory (``ru_maxrss``), training included.

The run is bounded by ``--learning-timeout`` seconds (default 3600). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register

DEFAULT_TIMEOUT = 3600.0
PREDICT_REPEATS = 50


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--learning-models", nargs="+", metavar="KIND", help="learning: base models (default: every available kind)"
    )
    parser.add_argument(
        "--learning-timeout", type=float, help=f"learning: seconds before the run is stopped (default {DEFAULT_TIMEOUT:.0f})"
    )


@register(
    "learning",
    description="training time per model and for the ensemble on the full real data, prediction time, peak memory",
    add_arguments=_arguments,
)
def learning(context: BenchmarkContext) -> SectionResult:
    from benchmarks.sections.load_prices import prices_dir
    from benchmarks.support import run_probe

    directory = prices_dir(context)
    if not directory.is_dir() or not any(directory.glob("*.csv")):
        raise SectionSkipped(f"no price CSVs at {directory}; pass --prices-dir DIR or set QUANTAI_PRICES_DIR")
    args = ["--prices-dir", str(directory)]
    kinds = context.option("learning_models")
    if kinds:
        args += ["--models", *kinds]
    timeout = float(context.option("learning_timeout", DEFAULT_TIMEOUT))
    context.log(f"learning: fitting the ensemble on {directory} in a child process (up to {timeout:.0f} s)")
    measured = run_probe("benchmarks.sections.learning", args, env={"LOG_LEVEL": "WARNING"}, timeout=timeout)

    result = SectionResult()
    result.add("rows", measured["rows"], "rows")
    result.add("features", measured["features"], "features")
    for kind, seconds in measured["train_seconds"].items():
        result.add(f"train_{kind}_s", seconds, "s")
    for name in ("predict_5_symbols_ms", "features_and_predict_5_symbols_ms"):
        result.add(f"{name}_median", measured[name]["median"], "ms")
        result.add(f"{name}_p95", measured[name]["p95"], "ms")
    for kind, ms in measured["predict_5_symbols_ms_per_model"].items():
        result.add(f"predict_5_symbols_{kind}_ms_median", ms, "ms")
    result.add("artifact_mib", measured["artifact_mib"], "MiB")
    result.add("artifact_verify_and_load_ms", measured["artifact_verify_and_load_ms"], "ms")
    result.add("peak_rss_mib", measured["peak_rss_mib"], "MiB")
    result.note(
        f"base models {', '.join(measured['kinds'])}; data {measured['start']}..{measured['end']}; "
        f"{measured['threads']} CPU(s) visible; stacker weights {measured['weights']}"
    )
    return result


# ---- the child process -------------------------------------------------------------------------


def _timed_ms(func: Any, repeats: int) -> dict[str, float]:
    import time

    from benchmarks.support import percentile

    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median": percentile(samples, 50), "p95": percentile(samples, 95)}


def probe(prices_dir: str, kinds: Sequence[str] | None, *, params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Fit the ensemble on every labelled row of the CSVs and time what the product does with it.

    ``params``: hyperparameter overrides per kind (tests use tiny models; the benchmark uses the defaults).
    """
    import hashlib
    import resource
    import tempfile
    from pathlib import Path

    from learning.ml.data import load_csv_dirs, truncate
    from learning.ml.dataset import build_dataset
    from learning.ml.ensemble import StackedEnsemble
    from learning.ml.features import compute_features
    from learning.ml.models import MODEL_CLASSES

    panel = load_csv_dirs([prices_dir])
    data = build_dataset(panel)
    chosen = list(kinds) if kinds else list(MODEL_CLASSES)
    ensemble = StackedEnsemble(base={k: dict((params or {}).get(k, {})) for k in chosen}).fit(data.X, data.y)

    last_day = data.features.index.get_level_values("date").max()
    day_rows = data.features[data.features.index.get_level_values("date") == last_day]
    context = data.features[data.features.index.get_level_values("date") < last_day]
    predict = _timed_ms(lambda: ensemble.predict_components(day_rows, context=context), PREDICT_REPEATS)
    per_model = {
        kind: _timed_ms(lambda m=model: m.predict_proba(day_rows, context=context), PREDICT_REPEATS)["median"]
        for kind, model in ensemble.models.items()
    }

    recent = {s: f.iloc[-300:] for s, f in truncate(panel, last_day).items()}

    def features_and_predict() -> None:
        feats = compute_features(recent)
        feats = feats[feats.notna().all(axis=1)]
        rows = feats[feats.index.get_level_values("date") == last_day]
        ensemble.predict_components(rows, context=feats[feats.index.get_level_values("date") < last_day])

    full = _timed_ms(features_and_predict, max(5, PREDICT_REPEATS // 5))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ensemble.zip"
        ensemble.save(path)
        expected = hashlib.sha256(path.read_bytes()).hexdigest()

        def verify_and_load() -> None:
            raw = path.read_bytes()
            assert hashlib.sha256(raw).hexdigest() == expected
            StackedEnsemble.load(path)

        load = _timed_ms(verify_and_load, 3)
        size = path.stat().st_size

    return {
        "rows": len(data),
        "features": data.X.shape[1],
        "kinds": chosen,
        "start": str(data.dates.min().date()),
        "end": str(data.dates.max().date()),
        "train_seconds": {k: round(v, 3) for k, v in ensemble.fit_seconds_.items()},
        "predict_5_symbols_ms": predict,
        "predict_5_symbols_ms_per_model": per_model,
        "features_and_predict_5_symbols_ms": full,
        "artifact_mib": size / 2**20,
        "artifact_verify_and_load_ms": load["median"],
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "weights": {k: round(v, 3) for k, v in ensemble.weights.items()},
        "threads": os.cpu_count(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="learning benchmark child process (no database)")
    parser.add_argument("--prices-dir", required=True)
    parser.add_argument("--models", nargs="+")
    args = parser.parse_args(argv)
    from benchmarks.support import print_result

    print_result(probe(args.prices_dir, args.models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
