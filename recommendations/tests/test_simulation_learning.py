"""The replay measures personalisation as a person meets it: HOLDs are read but never answered, folded cards stay
closed, acceptance counts decision cards, and the report puts both groups, per user and per week, beside what was
learned; the risk-only replay trains nothing and the sandbox keeps only the history the policy uses."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.core.management import call_command

from learning.models import TrainingRun
from market import calendar
from market.models import PriceBar
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.simulation.personas import Persona
from recommendations.simulation.report import format_report, simulation_report
from recommendations.simulation.runner import RiskOnlySignals, SimulationConfig, simulation_prices_trim, simulation_run
from recommendations.tests.conftest import make_market

DAY0 = date(2024, 6, 3)
ANSWERED = [RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED]


@pytest.fixture(autouse=True)
def _private_models_dir(settings: Any, tmp_path: Any) -> None:
    settings.MODELS_DIR = tmp_path / "models"


def _config(**overrides: Any) -> SimulationConfig:
    picky = Persona(name="picky", symbol_adjustments={"NVDA": 4.0, "AMZN": -6.0, "AAPL": -6.0}, noise=0.0, attention=2)
    reader = Persona(name="reader", base_acceptance=0.6, noise=0.0)
    values: dict[str, Any] = {"users": 4, "days": 8, "start": DAY0, "personas": [picky, reader], "seed": 1, "models": ()}
    values.update(overrides)
    return SimulationConfig(**values)


@pytest.mark.django_db
def test_holds_and_folded_cards_are_never_answered_and_the_report_compares_both_groups_per_user():
    make_market(calendar.add_trading_days(DAY0, 20), sessions=150)

    result = simulation_run(config=_config())
    report = simulation_report(result)

    recs = Recommendation.objects.all()
    assert not recs.filter(recommendation_type="HOLD", status__in=ANSWERED).exists()  # information, not a question
    folded = recs.filter(model_features__personalisation__folded=True)
    assert not folded.filter(status__in=ANSWERED).exists()  # a folded card stays closed
    assert not recs.filter(user__username__startswith="sim-ctl-", model_features__has_key="personalisation").exists()
    personalised = recs.exclude(user__username__startswith="sim-ctl-").filter(
        recommendation_type__in=["BUY", "SELL"], status__in=ANSWERED
    )
    accepted = personalised.filter(status=RecommendationStatus.ACCEPTED).count()
    assert report["accepted"] == accepted and report["accepted_per_user"] == pytest.approx(accepted / 4, abs=0.01)
    assert report["acceptance_rate"] == pytest.approx(accepted / personalised.count(), abs=1e-4)
    assert report["control"]["accepted_per_user"] is not None
    assert report["folded"] == folded.count()
    for week in report["weeks"]:
        assert {"decisions", "folded", "accepted_per_user"} <= set(week)
    learned = {p["name"]: p["learned"] for p in report["personas"]}
    assert {"size_fraction", "users_with_size", "cards_read", "users_with_cards_read"} <= set(learned["picky"])
    # picky's hard rules let every card through: what it answered is what it revealed (AAPL and AMZN are folded away).
    picky = next(p for p in report["personas"] if p["name"] == "picky")
    answered = set(personalised.filter(user__username__startswith="sim-picky-").values_list("symbol", flat=True).distinct())
    assert set(learned["picky"]["revealed_symbols"]) <= answered
    assert "symbol_rank_correlation_revealed" in picky["match"]
    assert "Acceptance = accepted / answered BUY and SELL cards" in format_report(report)
    json.dumps(report)


@pytest.mark.django_db
def test_the_risk_only_replay_trains_no_direction_model():
    make_market(calendar.add_trading_days(DAY0, 5), sessions=120)

    result = simulation_run(config=_config(days=2, users=2))

    assert not TrainingRun.objects.exists() and result.retrains == []
    assert Recommendation.objects.filter(trading_date=DAY0).count() == 2 * 2 * 5
    assert isinstance(RiskOnlySignals().signals(DAY0).missing, dict)


@pytest.mark.django_db
def test_the_sandbox_keeps_only_the_history_the_policy_uses():
    make_market(calendar.add_trading_days(DAY0, 5), sessions=120)
    kept_from = calendar.add_trading_days(DAY0, -50)

    deleted = simulation_prices_trim(start=DAY0, sessions=50)

    assert deleted == 6 * (120 - 6 - 50)  # six symbols; the 6 sessions from DAY0 on and the 50 before it stay
    assert PriceBar.objects.order_by("date").first().date == kept_from


@pytest.mark.django_db
def test_the_command_replays_without_a_model_and_says_how_acceptance_is_counted(tmp_path, capsys):
    make_market(calendar.add_trading_days(DAY0, 10), sessions=120)
    out = tmp_path / "report.json"

    call_command(
        "simulate_users",
        *("--users", "2", "--days", "2", "--start", DAY0.isoformat(), "--json", str(out)),
        *("--in-place", "--models", "none"),
    )

    report = json.loads(out.read_text())
    assert report["retrains"] == [] and report["config"]["models"] == []
    assert report["control"]["accepted_per_user"] is not None
    assert "BUY and SELL cards" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_simulated_person_skips_folded_cards_and_reads_holds_without_answering_them(today):
    from numpy.random import default_rng

    from portfolios.factories import funded_investor
    from recommendations.factories import RecommendationFactory
    from recommendations.simulation.runner import SimUser, _answer_day

    user = funded_investor("100000.00")
    keen = Persona(name="keen", base_acceptance=0.999, noise=0.0, attention=2)
    common = {"user": user, "trading_date": today, "recommended_price": "10.00", "recommended_shares": "1"}
    hold = RecommendationFactory(symbol="AAPL", recommendation_type="HOLD", trade_side="", priority=1, **common)
    folded = RecommendationFactory(
        symbol="AMZN",
        recommendation_type="BUY",
        trade_side="BUY",
        priority=2,
        model_features={"personalisation": {"folded": True}},
        **common,
    )
    first = RecommendationFactory(symbol="GOOGL", recommendation_type="BUY", trade_side="BUY", priority=3, **common)
    beyond = RecommendationFactory(symbol="META", recommendation_type="BUY", trade_side="BUY", priority=4, **common)

    _answer_day(SimUser(user=user, persona=keen, personalised=True, rng=default_rng(0)), today)

    status = dict(Recommendation.objects.values_list("pk", "status"))
    assert status[hold.pk] == status[folded.pk] == status[beyond.pk] == RecommendationStatus.PENDING
    assert status[first.pk] == RecommendationStatus.ACCEPTED  # the HOLD took one of two cards of attention
