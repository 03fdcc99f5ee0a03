"""A corrupted or missing model artifact: predictions fall back to the last good version, or say there are none.

Two ensemble versions share one trained model: the retired v1 (the last good one) and the active v2, whose
file is then corrupted (its bytes no longer match the sha256 in the registry) or deleted. The generation
test goes one step further than the predictor: the recommendations the engine writes name the model that
made them, and with no good artifact left generation falls back to the risk-only policy (no model's numbers on
any card) and says why, instead of failing.
"""

from __future__ import annotations

import shutil
from datetime import date
from typing import Any

import pytest

from learning import predictor, registry
from learning.models import ModelStatus, ModelVersion, TrainingRun
from learning.services.versions import model_version_activate
from learning.tests.helpers import END

pytestmark = pytest.mark.django_db

STOCKS = ["AAPL", "AMZN", "NVDA"]


def _second_version(first: ModelVersion) -> ModelVersion:
    """v2: the same model stored under a new file name, registered and activated like a promoted retrain."""
    source = registry.models_dir() / first.artifact_path
    copy = source.with_name(f"v2-{source.name}")
    shutil.copyfile(source, copy)
    second = ModelVersion.objects.create(
        **{
            f.name: getattr(first, f.name)
            for f in ModelVersion._meta.fields
            if f.name not in ("id", "version", "status", "active_slot", "activated_at", "retired_at")
        },
        version=first.version + 1,
        status=ModelStatus.CANDIDATE,
    )
    second.artifact_path = copy.relative_to(registry.models_dir()).as_posix()
    second.save(update_fields=["artifact_path"])
    return model_version_activate(version_id=second.pk, reason="promoted by the test")


@pytest.fixture
def two_versions(trained: TrainingRun) -> tuple[ModelVersion, ModelVersion]:
    first = ModelVersion.objects.get(kind="ensemble", status=ModelStatus.ACTIVE)
    second = _second_version(first)
    first.refresh_from_db()
    assert first.status == ModelStatus.RETIRED and first.activated_at is not None
    predictor.clear_cache()
    return first, second


def _p_up(day: date | None = None) -> dict[str, tuple[float, int]]:
    outcomes = predictor.predict_day(day=day, symbols=STOCKS)
    return {s: (o.prediction.p_up, o.prediction.model_version_id) for s, o in outcomes.items() if o.prediction is not None}


def _corrupt(version: ModelVersion) -> None:
    path = registry.models_dir() / version.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle: same size, another sha256
    path.write_bytes(bytes(data))


def _delete(version: ModelVersion) -> None:
    (registry.models_dir() / version.artifact_path).unlink()


@pytest.mark.parametrize("damage", [_corrupt, _delete], ids=["corrupted", "deleted"])
def test_a_damaged_active_artifact_falls_back_to_the_last_good_version(
    two_versions: tuple[ModelVersion, ModelVersion], damage: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = two_versions
    healthy = _p_up()
    assert {v for _, v in healthy.values()} == {second.pk}
    predictor.clear_cache()  # a worker that starts after the damage

    damage(second)
    fallback = _p_up()

    assert set(fallback) == set(STOCKS)
    assert {s: p for s, (p, _) in fallback.items()} == {s: p for s, (p, _) in healthy.items()}
    assert {v for _, v in fallback.values()} == {first.pk}, "the prediction names the model that made it"
    assert "predicting with the last good" in caplog.text
    second.refresh_from_db()
    assert second.status == ModelStatus.ACTIVE, "reading never changes the registry: an operator decides"


@pytest.mark.parametrize("damage", [_corrupt, _delete], ids=["corrupted", "deleted"])
def test_with_no_good_artifact_left_there_is_no_prediction_and_the_reason_says_why(
    two_versions: tuple[ModelVersion, ModelVersion], damage: Any
) -> None:
    first, second = two_versions
    damage(second)
    damage(first)

    outcomes = predictor.predict_day(symbols=STOCKS)

    assert all(o.prediction is None for o in outcomes.values())
    assert all(f"the active {second.label} failed verification" in o.reason for o in outcomes.values())


def test_an_artifact_corrupted_after_it_was_loaded_keeps_serving_the_verified_copy(
    two_versions: tuple[ModelVersion, ModelVersion],
) -> None:
    _, second = two_versions
    before = _p_up()

    _corrupt(second)

    assert _p_up() == before


@pytest.mark.parametrize("damage", [_corrupt, _delete], ids=["corrupted", "deleted"])
def test_generation_uses_the_last_good_version_and_records_it(
    two_versions: tuple[ModelVersion, ModelVersion], damage: Any
) -> None:
    from portfolios.factories import funded_investor
    from recommendations.models import Recommendation
    from recommendations.services import recommendations_generate

    first, second = two_versions
    user = funded_investor("100000.00")
    damage(second)

    result = recommendations_generate(date=END)

    rows = Recommendation.objects.filter(user=user, trading_date=END)
    assert sorted(rows.values_list("symbol", flat=True)) == STOCKS
    assert set(rows.values_list("model_version_id", flat=True)) == {first.pk}
    assert result.created == len(STOCKS)


@pytest.mark.parametrize("damage", [_corrupt, _delete], ids=["corrupted", "deleted"])
def test_generation_without_any_good_artifact_uses_no_model_and_says_why(
    two_versions: tuple[ModelVersion, ModelVersion], damage: Any
) -> None:
    from portfolios.factories import funded_investor
    from recommendations.model_signals import signals_for
    from recommendations.models import Recommendation
    from recommendations.services import recommendations_generate

    first, second = two_versions
    funded_investor("100000.00")
    damage(second)
    damage(first)

    batch = signals_for(END)
    result = recommendations_generate(date=END)

    assert batch.signals == {}
    assert set(batch.missing) == {"AAPL", "AMZN", "GOOGL", "META", "NVDA"}
    assert "failed verification" in batch.reason
    assert result.created == len(STOCKS) and set(result.risk_only) == set(STOCKS)
    assert "Risk-only policy" in result.reason and "failed verification" in result.reason
    assert set(Recommendation.objects.values_list("model_version_id", flat=True)) == {None}
    assert set(result.missing) == {"GOOGL", "META"}  # no bars in this market
