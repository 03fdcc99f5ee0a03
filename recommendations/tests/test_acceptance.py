"""The acceptance model: history features without look-ahead, learning a planted preference, determinism, the
registry (skip reasons, tamper refusal), the nightly task and command, its use in ranking, and no sklearn on import."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from learning.registry import artifact_problem, artifact_verify, models_dir
from market.symbols import TRADABLE
from portfolios.factories import funded_investor
from recommendations import acceptance
from recommendations.core import acceptance_model
from recommendations.factories import RecommendationFactory, signal_batch
from recommendations.models import (
    AcceptanceModelVersion,
    PersonalisationQuality,
    Recommendation,
    RecommendationStatus,
    UserPreferenceProfile,
)
from recommendations.services import recommendations_generate
from recommendations.tasks import learn_personalisation
from recommendations.tests.conftest import UP, make_market

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)
SYMBOLS = list(TRADABLE)


def planted(*, users: int = 8, per_user: int = 40, seed: int = 1, noise: float = 0.05) -> pd.DataFrame:
    """Answers of synthetic users who accept AAPL and reject everything else (``noise`` of answers flipped)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(per_user):
        for u in range(users):
            symbol = str(rng.choice(SYMBOLS))
            rows.append(
                {
                    "user_id": u,
                    "timestamp": T0 + timedelta(minutes=i * users + u),
                    "symbol": symbol,
                    "action": str(rng.choice(["BUY", "SELL", "HOLD"])),
                    "confidence": float(rng.uniform(0.5, 0.8)),
                    "risk_score": float(rng.uniform(0, 1)),
                    "size_pct": float(rng.uniform(0, 0.2)),
                    "risk_tolerance": "Moderate",
                    "experience": "Beginner",
                    "accepted": (symbol == "AAPL") != bool(rng.random() < noise),
                }
            )
    return pd.DataFrame(rows)


def one_row(symbol: str, **overrides: object) -> pd.DataFrame:
    row = {
        "action": "BUY",
        "confidence": 0.65,
        "risk_score": 0.4,
        "symbol": symbol,
        "size_pct": 0.1,
        "risk_tolerance": "Moderate",
        "experience": "Beginner",
        "user_rate": 0.5,
        "user_symbol_rate": 0.5,
        "user_responses": 20,
    }
    return pd.DataFrame([{**row, **overrides}])


# --- numerical core ------------------------------------------------------------------------------------------------


def test_history_features_use_only_earlier_answers_of_the_same_user():
    answers = pd.DataFrame(
        {
            "user_id": [1, 2, 1, 1],
            "timestamp": [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)],
            "symbol": ["AAPL", "AAPL", "AAPL", "NVDA"],
            "accepted": [True, False, True, False],
        }
    )
    out = acceptance_model.history_features(answers)

    assert out["user_responses"].tolist() == [0, 0, 1, 2]
    assert out["user_rate"].tolist() == pytest.approx([0.5, 0.5, (1 + 1) / (1 + 2), (2 + 1) / (2 + 2)])
    # AAPL for user 1 after one accept: (1 + 4 * rate) / (1 + 4) with rate = 2/3; NVDA never seen: the user's rate.
    assert out["user_symbol_rate"].tolist() == pytest.approx([0.5, 0.5, (1 + 4 * 2 / 3) / 5, 0.75])


def test_the_action_rate_uses_only_earlier_answers_of_the_same_user_and_action():
    answers = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 1],
            "timestamp": [T0 + timedelta(minutes=m) for m in range(4)],
            "symbol": ["AAPL", "NVDA", "AAPL", "META"],
            "action": ["HOLD", "BUY", "HOLD", "HOLD"],
            "accepted": [False, True, True, False],
        }
    )
    out = acceptance_model.history_features(answers)
    rate_before_last = (1 + 1) / (2 + 2)  # user 1: one accept in two answers
    expected = [0.5, (0 + 4 * 1 / 3) / 4, 0.5, (0 + 4 * rate_before_last) / (1 + 4)]  # the BUY: never seen, user rate 1/3
    assert out["user_action_rate"].tolist() == pytest.approx(expected)


def test_the_forest_learns_a_user_who_declines_holds():
    answers = planted(seed=4)
    answers["accepted"] = (answers["action"] != "HOLD") != (np.random.default_rng(2).random(len(answers)) < 0.05)
    frame = acceptance_model.history_features(answers)
    model = acceptance_model.fit_acceptance(frame, frame["accepted"].to_numpy(dtype=np.int64), symbols=SYMBOLS, seed=0)
    assert model.predict(one_row("AAPL", action="HOLD", user_action_rate=0.1))[0] < 0.3
    assert model.predict(one_row("AAPL", action="BUY", user_action_rate=0.9))[0] > 0.7


def test_a_later_answer_never_changes_the_features_of_an_earlier_one():
    answers = planted(users=3, per_user=10)
    full = acceptance_model.history_features(answers)
    prefix = acceptance_model.history_features(answers.iloc[:17])
    pd.testing.assert_frame_equal(full.iloc[:17].reset_index(drop=True), prefix)


def test_the_forest_learns_a_user_who_accepts_only_aapl():
    frame = acceptance_model.history_features(planted())
    y = frame["accepted"].to_numpy(dtype=np.int64)
    x = acceptance_model.feature_matrix(frame, SYMBOLS).to_numpy()

    aucs = acceptance_model.cross_validated_auc(x, y, seed=0)
    model = acceptance_model.fit_acceptance(frame, y, symbols=SYMBOLS, seed=0)

    assert len(aucs) >= 3 and np.mean(aucs) > 0.7
    p_aapl = model.predict(one_row("AAPL"))[0]
    p_nvda = model.predict(one_row("NVDA"))[0]
    assert p_aapl > 0.7 > 0.3 > p_nvda
    assert model.importances()[0][0] == "symbol_AAPL"


def test_without_a_pattern_the_cross_validated_auc_stays_near_chance():
    answers = planted(seed=3)
    answers["accepted"] = np.random.default_rng(5).random(len(answers)) < 0.5
    frame = acceptance_model.history_features(answers)
    x = acceptance_model.feature_matrix(frame, SYMBOLS).to_numpy()
    aucs = acceptance_model.cross_validated_auc(x, frame["accepted"].to_numpy(dtype=np.int64), seed=0)
    assert 0.3 < np.mean(aucs) < 0.7


def test_training_is_deterministic_for_a_seed():
    frame = acceptance_model.history_features(planted())
    y = frame["accepted"].to_numpy(dtype=np.int64)
    first = acceptance_model.fit_acceptance(frame, y, symbols=SYMBOLS, seed=7)
    second = acceptance_model.fit_acceptance(frame, y, symbols=SYMBOLS, seed=7)
    probe = pd.concat([one_row(s, confidence=c) for s in SYMBOLS for c in (0.55, 0.7)], ignore_index=True)

    assert np.array_equal(first.predict(probe), second.predict(probe))
    assert first.importances() == second.importances()
    x = acceptance_model.feature_matrix(frame, SYMBOLS).to_numpy()
    assert acceptance_model.cross_validated_auc(x, y, seed=7) == acceptance_model.cross_validated_auc(x, y, seed=7)
    assert acceptance_model.AcceptanceModel.loads(first.dumps()).importances() == first.importances()


def test_importing_personalisation_and_acceptance_loads_no_ml_library():
    code = (
        "import sys, django; django.setup();"
        "import recommendations.core.learned_profile, recommendations.core.acceptance_model, recommendations.acceptance,"
        " recommendations.services,"
        " recommendations.services.personalise, recommendations.tasks, recommendations.admin;"
        "heavy = {'torch', 'xgboost', 'sklearn', 'scipy'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"DJANGO_SETTINGS_MODULE": "quantai.settings.test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_the_numerical_core_of_personalisation_imports_no_django():
    code = (
        "import sys; import recommendations.core.learned_profile, recommendations.core.acceptance_model,"
        " recommendations.core.bandit, recommendations.core.prequential; print('django' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "False", out.stderr


# --- the registry, the task and the command (database) -------------------------------------------------------------


@pytest.fixture
def models_tmp(settings, tmp_path):
    settings.MODELS_DIR = tmp_path / "models"
    return settings.MODELS_DIR


def store_answers(signal_day, *, users: int = 3, per_user: int = 25, seed: int = 2) -> list:
    """Answered recommendations in the database from investors who accept AAPL only."""
    rng = np.random.default_rng(seed)
    investors = [funded_investor("10000.00") for _ in range(users)]
    k = 0
    for i in range(per_user):
        for user in investors:
            symbol = str(rng.choice(SYMBOLS))
            accepted = symbol == "AAPL"
            RecommendationFactory(
                user=user,
                symbol=symbol,
                trading_date=signal_day + timedelta(days=i),
                confidence_score=Decimal(f"{rng.uniform(0.5, 0.8):.4f}"),
                status=RecommendationStatus.ACCEPTED if accepted else RecommendationStatus.REJECTED,
                user_accepted=accepted,
                user_response_timestamp=T0 + timedelta(minutes=k),
                actual_shares_traded=Decimal("2") if accepted else None,
                model_features={"sizing": {"equity": "10000.00"}},
            )
            k += 1
    return investors


@pytest.mark.django_db
def test_training_is_skipped_with_a_reason_when_there_are_too_few_answers(signal_day, models_tmp):
    store_answers(signal_day, users=1, per_user=10)

    result = acceptance.acceptance_model_train()

    assert not result.trained and "only 10 answered" in result.reason and str(acceptance.MIN_RESPONSES) in result.reason
    assert AcceptanceModelVersion.objects.count() == 0
    assert acceptance.acceptance_model_load() == (None, None)


@pytest.mark.django_db
def test_training_is_skipped_when_one_kind_of_answer_is_missing(signal_day, models_tmp):
    store_answers(signal_day, users=3, per_user=25)
    Recommendation.objects.update(user_accepted=True, status=RecommendationStatus.ACCEPTED)

    result = acceptance.acceptance_model_train()

    assert not result.trained and "0 rejected" in result.reason


@pytest.mark.django_db
def test_a_trained_model_is_registered_verified_and_reused(signal_day, models_tmp):
    store_answers(signal_day)

    result = acceptance.acceptance_model_train(seed=0)

    assert result.trained, result.reason
    version = result.version
    assert version.version == 1 and version.responses == 75 and version.users == 3
    assert version.metrics["auc_mean"] > 0.7 and len(version.metrics["auc_folds"]) >= 3
    assert 0 < version.metrics["base_rate"] < 1
    assert version.feature_importance[0][0] == "symbol_AAPL"
    assert version.library_versions["scikit-learn"] and version.hyperparameters["random_state"] == 0
    path = models_dir() / version.artifact_path
    assert path.is_file() and path.is_relative_to(models_tmp) and not list(path.parent.glob("*.tmp"))

    model, loaded_version = acceptance.acceptance_model_load()
    assert loaded_version == version and model is not None
    assert model.predict(one_row("AAPL"))[0] > model.predict(one_row("META"))[0]

    again = acceptance.acceptance_model_train(seed=0)
    assert not again.trained and "unchanged since v1" in again.reason
    assert acceptance.acceptance_model_train(seed=0, force=True).version.version == 2


@pytest.mark.django_db
def test_a_tampered_artifact_is_never_loaded(signal_day, models_tmp, caplog):
    store_answers(signal_day)
    version = acceptance.acceptance_model_train().version
    path = models_dir() / version.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")

    assert acceptance.acceptance_model_load() == (None, None)
    assert "refused" in caplog.text

    version.artifact_path = "../../etc/passwd"
    version.save()
    assert acceptance.acceptance_model_load() == (None, None)


@pytest.mark.django_db
def test_the_acceptance_artifact_is_checked_by_the_one_artifact_store_of_every_model_kind(signal_day, models_tmp, caplog):
    store_answers(signal_day)
    version = acceptance.acceptance_model_train().version
    assert artifact_verify(version) and artifact_problem(version) is None

    (models_dir() / version.artifact_path).unlink()

    assert artifact_problem(version).endswith("is missing")
    assert acceptance.acceptance_model_load() == (None, None)
    assert f"acceptance model v1 (id {version.pk}) refused" in caplog.text and "is missing" in caplog.text


@pytest.mark.django_db
def test_the_nightly_task_learns_profiles_and_the_model_and_can_run_twice(signal_day, models_tmp):
    investors = store_answers(signal_day)

    first = learn_personalisation()
    second = learn_personalisation()

    assert first["profiles"] == 3 and first["trained"] and first["version"] == 1 and first["auc_mean"] > 0.7
    assert second["trained"] is False and "unchanged" in second["reason"] and second["version"] == 1
    assert UserPreferenceProfile.objects.filter(user__in=investors).count() == 3
    # each run stores both models' time-ordered quality; the acceptance model's comes from its training
    rows = list(PersonalisationQuality.objects.order_by("id"))
    assert len(rows) == 2 and rows[-1].answers == 75 and rows[-1].acceptance_version == 1
    pre = rows[-1].acceptance
    assert pre["answers"] == 5 * (75 // 6) and pre["auc"] > 0.7 and 1 <= len(pre["reliability"]) <= 10
    assert pre["block_aucs"] == AcceptanceModelVersion.objects.get(version=1).metrics["auc_folds"]
    # the bandit, replayed answer by answer, learns that these investors accept AAPL only
    assert rows[-1].bandit["answers"] == 75 and rows[-1].bandit["auc"] > 0.7 and first["bandit_auc"] == rows[-1].bandit["auc"]


@pytest.mark.django_db
def test_the_command_reports_the_auc_and_the_top_features(signal_day, models_tmp):
    out = StringIO()
    call_command("train_acceptance", stdout=out)
    assert "only 0 answered" in out.getvalue()

    store_answers(signal_day)
    out = StringIO()
    call_command("train_acceptance", "--seed", "3", stdout=out)
    text = out.getvalue()
    assert "3 learned profiles" in text and "AUC 0." in text and "Top features: symbol_AAPL" in text


@pytest.mark.django_db
def test_a_new_user_is_ranked_from_the_population_prior_of_the_nightly_job(signal_day, models_tmp, settings):
    """Other users accept AAPL only; a new user's cards are ordered by the bandit's population prior (no own answer)."""
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "personalised_recommendations": True}
    store_answers(signal_day - timedelta(days=400))
    learn_personalisation()
    make_market(signal_day, drift={"AAPL": UP, "META": UP})
    investor = funded_investor("20000.00")

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7, "META": 0.7}), users=[investor])

    recs = {r.symbol: r for r in Recommendation.objects.filter(user=investor, trading_date=signal_day)}
    assert recs["AAPL"].model_features["personalisation"]["source"].startswith("contextual bandit")
    assert recs["AAPL"].model_features["personalisation"]["answers"] == 0
    assert recs["AAPL"].acceptance_probability > recs["META"].acceptance_probability
    assert sorted(r.priority for r in recs.values()) == [1, 2, 3, 4, 5]  # every card ranked, none hidden
    assert recs["AAPL"].priority == 1 and recs["AAPL"].priority < recs["META"].priority
    assert recs["AAPL"].recommendation_type == recs["META"].recommendation_type == "BUY"
