"""The simulated-users replay: personas, the day-by-day loop through the real services, no look-ahead, the report."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from learning.models import ModelVersion, TrainingRun
from learning.tests.helpers import END
from market import calendar
from market.models import PriceBar
from market.symbols import TRADABLE
from portfolios.factories import InvestorFactory
from quantai.errors import ValidationFailed
from recommendations.factories import signal_batch
from recommendations.model_signals import SignalBatch
from recommendations.models import Recommendation, RecommendationStatus, UserPreferenceProfile
from recommendations.simulation.personas import Card, Persona, load_personas, personas_from_json, random_personas
from recommendations.simulation.report import simulation_report
from recommendations.simulation.runner import ModelSignals, SimulationConfig, SimulationError, simulation_run
from recommendations.tests.conftest import make_market

DAY0 = date(2024, 6, 3)


@pytest.fixture(autouse=True)
def _private_models_dir(settings: Any, tmp_path: Any) -> None:
    """The acceptance model (and any ensemble) trained by a replay is written under the test's own directory."""
    settings.MODELS_DIR = tmp_path / "models"


class MomentumSignals:
    """A cheap signal source for loop tests: P(up) from the 5-session return up to the day (bars <= day only)."""

    def __init__(self) -> None:
        self.prepared: list[date] = []

    def prepare(self, *, day: date, index: int) -> dict[str, Any] | None:
        self.prepared.append(day)
        return None

    def signals(self, day: date) -> SignalBatch:
        p_up = {}
        for symbol in TRADABLE:
            closes = list(
                PriceBar.objects.filter(symbol=symbol, date__lte=day).order_by("-date").values_list("close", flat=True)[:6]
            )
            if len(closes) == 6:
                p_up[symbol] = float(min(0.9, max(0.1, 0.5 + 5 * float(closes[0] / closes[5] - 1))))
        return signal_batch(day, p_up)


def card(**overrides: Any) -> Card:
    values: dict[str, Any] = {
        "symbol": "AAPL",
        "action": "BUY",
        "trade_side": "BUY",
        "confidence": 0.6,
        "risk_score": 0.3,
        "shares": Decimal("10.0000"),
    }
    values.update(overrides)
    return Card(**values)


def day_rows(day: date) -> list[tuple[Any, ...]]:
    return list(
        Recommendation.objects.filter(trading_date=day)
        .order_by("user__username", "symbol")
        .values_list(
            "user__username",
            "symbol",
            "recommendation_type",
            "recommended_shares",
            "confidence_score",
            "risk_score",
            "status",
            "actual_shares_traded",
        )
    )


# --- personas ---------------------------------------------------------------------------------------------------


def test_the_default_personas_load_and_cover_the_schema():
    personas = load_personas()

    assert len(personas) >= 4
    assert len({p.name for p in personas}) == len(personas)
    assert any(p.attention for p in personas) and any(p.size_fraction < 1 for p in personas)
    assert any(p.min_confidence > 0 for p in personas) and any(p.max_risk_score < 1 for p in personas)


@pytest.mark.parametrize(
    ("persona", "problem"),
    [
        ({"name": "x", "base_acceptance": 1.5}, "base_acceptance"),
        ({"name": "x", "symbol_adjustments": {"TSLA": 1}}, "TSLA"),
        ({"name": "x", "action_adjustments": {"BUY": "a lot"}}, "BUY"),
        ({"name": "x", "risk_tolerance": "Reckless"}, "risk_tolerance"),
        ({"name": "x", "attention": 0}, "attention"),
        ({"name": "x", "favourite_colour": "red"}, "favourite_colour"),
        ({"name": "Not A Slug"}, "name"),
    ],
)
def test_a_bad_persona_is_refused_naming_the_field(persona, problem):
    with pytest.raises(ValidationFailed) as caught:
        personas_from_json([persona])

    assert problem in caught.value.message


def test_random_personas_are_reproducible_valid_and_varied():
    """The same seed draws the same set, another seed another; every persona is one a persona file could hold."""
    first = random_personas(11)
    assert [p.name for p in first] == [f"random11-{k}" for k in range(1, 6)]
    assert random_personas(11) == first
    assert random_personas(12) != first
    many = [p for seed in range(20) for p in random_personas(seed)]
    for persona in many:  # the persona file's own validation accepts each one as it stands
        as_file = {"name": persona.name, "description": persona.description, **persona.hidden()}
        assert personas_from_json([as_file]) == [persona]
    # Each kind of rule is drawn sometimes and left out sometimes: sets with and without thresholds, limits, ...
    assert 0 < sum(p.min_confidence > 0 for p in many) < len(many)
    assert 0 < sum(p.max_risk_score < 1 for p in many) < len(many)
    assert 0 < sum(p.attention is not None for p in many) < len(many)
    assert len({p.risk_tolerance for p in many}) == 3 and len({p.experience for p in many}) == 3
    assert len({round(p.base_acceptance, 2) for p in many}) > 20


def test_random_personas_refuse_a_negative_seed_or_no_persona():
    with pytest.raises(ValidationFailed, match="0 or more"):
        random_personas(-1)
    with pytest.raises(ValidationFailed, match="at least one"):
        random_personas(1, count=0)


def test_a_persona_rejects_below_its_minimum_confidence_and_above_its_maximum_risk():
    persona = Persona(name="strict", base_acceptance=0.99, min_confidence=0.6, max_risk_score=0.5, noise=0.0)
    rng = np.random.default_rng(0)

    assert not any(persona.answer(card(confidence=0.59), rng).accept for _ in range(50))
    assert not any(persona.answer(card(risk_score=0.51), rng).accept for _ in range(50))
    assert sum(persona.answer(card(confidence=0.61, risk_score=0.49), rng).accept for _ in range(50)) >= 45


def test_symbol_and_action_adjustments_move_the_acceptance_rate():
    persona = Persona(name="fan", base_acceptance=0.5, symbol_adjustments={"NVDA": 2.0}, action_adjustments={"HOLD": -2.0})

    assert persona.acceptance_probability(card(symbol="NVDA")) > 0.85
    assert persona.acceptance_probability(card(action="HOLD", trade_side="")) < 0.15
    assert persona.acceptance_probability(card()) == pytest.approx(0.5)


def test_an_accepting_persona_trades_its_share_of_the_recommended_size():
    persona = Persona(name="half", base_acceptance=0.999, size_fraction=0.5, noise=0.0)

    answer = persona.answer(card(shares=Decimal("7.0001")), np.random.default_rng(1))

    assert answer.accept and answer.shares == Decimal("3.5000")


# --- the loop ---------------------------------------------------------------------------------------------------


def _config(**overrides: Any) -> SimulationConfig:
    values: dict[str, Any] = {"users": 3, "days": 3, "start": DAY0, "personas": load_personas(), "seed": 3}
    values.update(overrides)
    return SimulationConfig(**values)


@pytest.mark.django_db
def test_a_replay_answers_through_the_real_services_and_reports_weeks_and_personas():
    make_market(calendar.add_trading_days(DAY0, 12), sessions=120)
    source = MomentumSignals()

    result = simulation_run(config=_config(), source=source)
    report = simulation_report(result)

    assert source.prepared == calendar.sessions(DAY0, calendar.add_trading_days(DAY0, 2))
    recs = Recommendation.objects.all()
    assert recs.count() == 2 * 3 * 3 * len(TRADABLE)  # personalised and control users, five stocks, three sessions
    assert set(recs.values_list("user__username", flat=True)) == {u.user.username for u in result.users}
    assert all(name.startswith("sim-") for name in recs.values_list("user__username", flat=True))
    accepted_trades = recs.filter(status=RecommendationStatus.ACCEPTED).exclude(trade_side="")
    assert accepted_trades.exists() and not accepted_trades.filter(trade__isnull=True).exists()
    assert recs.filter(status=RecommendationStatus.REJECTED).exists()
    assert not recs.filter(outcome_evaluated=False).exists()  # every horizon was scored on the following closes
    assert recs.filter(priority__isnull=False).exclude(user__username__startswith="sim-ctl-").count() == 3 * 3 * 5
    assert not recs.filter(user__username__startswith="sim-ctl-", priority__isnull=False).exists()
    assert UserPreferenceProfile.objects.count() == 6

    assert {"weeks", "acceptance_rate", "accuracy", "personas"} <= set(report)
    assert [w["week_start"] for w in report["weeks"]] == ["2024-06-03"]
    week = report["weeks"][0]
    assert {"acceptance_rate", "accuracy", "base_rate", "pnl", "benchmark_pnl"} <= set(week)
    answered = recs.filter(user__username__startswith="sim-").exclude(user__username__startswith="sim-ctl-")
    answered = answered.filter(status__in=[RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED])
    assert week["acceptance_rate"] == pytest.approx(answered.filter(status="accepted").count() / answered.count(), abs=1e-4)
    assert [p["name"] for p in report["personas"]] == [p.name for p in load_personas()[:3]]  # three users, one each
    assert {"hidden", "learned", "match"} <= set(report["personas"][0])
    json.dumps(report)


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_report_and_another_seed_other_answers(settings, tmp_path):
    make_market(calendar.add_trading_days(DAY0, 12), sessions=120)
    runs = iter(range(10))

    def run(seed: int) -> dict[str, Any]:
        settings.MODELS_DIR = tmp_path / f"run-{next(runs)}"  # a rolled-back run leaves its artifact files behind
        with transaction.atomic():
            report = simulation_report(simulation_run(config=_config(seed=seed, users=2, days=2), source=MomentumSignals()))
            transaction.set_rollback(True)
        return {k: v for k, v in report.items() if k not in ("seconds",)}

    first, again, other = run(5), run(5), run(6)

    assert first == again
    assert first["personas"] != other["personas"] or first["weeks"] != other["weeks"]


@pytest.mark.django_db
def test_a_database_with_real_users_is_refused():
    make_market(calendar.add_trading_days(DAY0, 12), sessions=120)
    InvestorFactory(username="alice")

    with pytest.raises(SimulationError, match="real users"):
        simulation_run(config=_config(), source=MomentumSignals())
    assert not Recommendation.objects.exists()


# --- no look-ahead with the real models ---------------------------------------------------------------------------


def test_prices_after_day_t_do_not_change_day_t_recommendations_or_answers(learning_settings, demo_bars):
    t = calendar.add_trading_days(END, -12)
    config = _config(users=3, days=2, start=t, control=False, retrain_every=1)

    def run() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[date]]:
        with transaction.atomic():
            simulation_run(config=config, source=ModelSignals(models=("rf", "xgb"), retrain_every=1))
            rows, next_rows = day_rows(t), day_rows(calendar.next_trading_day(t))
            trained_until = list(TrainingRun.objects.order_by("pk").values_list("until", flat=True))
            assert max(ModelVersion.objects.values_list("train_end", flat=True)) < calendar.next_trading_day(t)
            transaction.set_rollback(True)
        return rows, next_rows, trained_until

    before, next_before, until_before = run()
    rng = np.random.default_rng(11)
    for bar in PriceBar.objects.filter(date__gt=t):
        factor = Decimal(str(round(float(rng.uniform(0.7, 1.3)), 4)))
        for name in ("open", "high", "low", "close", "adj_close"):
            setattr(bar, name, (getattr(bar, name) * factor).quantize(Decimal("0.0001")))
        bar.save()
    after, next_after, until_after = run()

    assert before and len({r[4] for r in before}) > 1  # model confidences, to four decimals
    assert after == before
    assert next_after != next_before  # the changed bars do reach the engine once they are in the past
    assert until_before == until_after == [calendar.previous_trading_day(t), t]


# --- the command ----------------------------------------------------------------------------------------------------


def test_the_command_refuses_a_bad_persona_file(tmp_path):
    bad = tmp_path / "personas.json"
    bad.write_text('[{"name": "x", "noise": 2}]')

    with pytest.raises(CommandError, match="noise"):
        call_command(
            "simulate_users", "--users", "1", "--days", "1", "--start", "2024-06-03", "--personas", str(bad), "--json", "x.json"
        )


def test_the_command_refuses_both_a_persona_file_and_random_personas_and_a_negative_seed(tmp_path):
    base = ("simulate_users", "--users", "1", "--days", "1", "--start", "2024-06-03", "--json", str(tmp_path / "x.json"))

    with pytest.raises(CommandError, match="not allowed with"):
        call_command(*base, "--personas", "p.json", "--random-personas", "1")
    with pytest.raises(CommandError, match="at least 0"):
        call_command(*base, "--random-personas", "-3")


def test_the_command_replays_random_personas(learning_settings, demo_bars, tmp_path):
    t = calendar.add_trading_days(END, -12)
    out = tmp_path / "report.json"

    call_command(
        "simulate_users",
        *("--users", "5", "--days", "1", "--start", t.isoformat(), "--json", str(out)),
        *("--in-place", "--no-control", "--models", "none", "--random-personas", "4"),
    )

    report = json.loads(out.read_text())
    assert report["config"]["personas"] == [p.name for p in random_personas(4)]
    assert [p["hidden"] for p in report["personas"]] == [p.hidden() for p in random_personas(4)]


def test_the_command_writes_the_json_report_in_place(learning_settings, demo_bars, tmp_path, capsys):
    t = calendar.add_trading_days(END, -12)
    out = tmp_path / "report.json"

    call_command(
        "simulate_users",
        *("--users", "2", "--days", "2", "--start", t.isoformat(), "--json", str(out)),
        *("--in-place", "--no-control", "--retrain-every", "5", "--seed", "1"),
    )

    report = json.loads(out.read_text())
    assert {"weeks", "acceptance_rate", "accuracy", "personas"} <= set(report)
    assert all({"acceptance_rate", "accuracy", "base_rate", "pnl", "benchmark_pnl"} <= set(w) for w in report["weeks"])
    assert report["retrains"][0]["trained_until"] == calendar.previous_trading_day(t).isoformat()
    assert "overall: acceptance" in capsys.readouterr().out


def test_the_symbol_rank_correlation_gives_tied_symbols_their_average_rank():
    """A persona indifferent to three symbols (hidden 0) learned as indifferent to them is a perfect match."""
    from recommendations.simulation.report import _spearman

    hidden = [0.8, 0.0, 0.0, 0.0, -1.0]
    assert _spearman(hidden, [0.7, 0.4, 0.4, 0.4, 0.2]) == pytest.approx(1.0)
    assert _spearman(hidden, [0.2, 0.4, 0.4, 0.4, 0.7]) == pytest.approx(-1.0)
    assert _spearman(hidden, [0.7, 0.3, 0.4, 0.5, 0.2]) < 1.0  # an order among the indifferent ones is a mismatch
    assert _spearman([0.0, 0.0, 0.0], [0.1, 0.2, 0.3]) is None
