"""The simulation's report: per week and overall figures, and each persona's hidden preferences against what was learned.

Definitions (rates and accuracy are :mod:`recommendations.stats`'s, so they match the product's pages):

- ``acceptance_rate``: accepted / answered (accepted + rejected) on the cards that ask for a decision (BUY, SELL;
  :mod:`recommendations.stats`): a HOLD is information and is never answered; cards past a persona's attention
  and folded cards expire unanswered and are not in it (``shown``, ``decisions``, ``folded`` and ``answered`` give
  the counts); ``accepted_per_user``: accepted decision cards per simulated user (hiding cards to raise the
  ratio would lower it);
- ``accuracy`` and ``base_rate``: of the week's evaluated recommendations (BUY up, SELL down, HOLD inside ±2 %),
  and how often the same calls would have been right by luck;
- ``pnl``: outcome P&L of the week's accepted trades (shares actually traded, signal-day close to horizon close);
- ``benchmark_pnl``: buy-and-hold of SPY with the same money over the same days: for each of those trades,
  ``traded value * (SPY close on the horizon day / SPY close on the signal day - 1)``.

- ``ceiling``: what a personaliser that *knew* every persona's hidden preferences would reach on the control
  group's cards (:func:`ceiling_figures`): it folds exactly the cards a persona's hard rules reject (never a
  risk-rule sale), puts the likeliest first, and its acceptance is the expected one
  (``noise / 2 + (1 - noise) * P(accept)`` per answered card). It says how much of a gap to the control group the
  cards themselves allow: no learner can fold better than knowing.

Weeks are Monday-to-Friday calendar weeks of the recommendations' trading dates. The personalised group's figures
are at the top level; the control group's (same personas and random streams, personalisation off) under ``control``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from django.db.models import QuerySet

from market.models import PriceBar
from market.symbols import BENCHMARK, TRADABLE
from recommendations.core.learned_profile import Profile
from recommendations.models import Recommendation, RecommendationStatus, UserPreferenceProfile
from recommendations.simulation.personas import Card, Persona
from recommendations.simulation.runner import SimulationResult, SimUser
from recommendations.stats import DECISION_TYPES, recommendation_stats

#: Calendar days after the start from which the "after 30 days" rates are measured.
SETTLING_DAYS = 30
#: A persona revealed its view of a stock with at least this many answered cards its hard rules let through.
REVEALED_ANSWERS = 3
ANSWERED = (RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED)


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), places)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _pnl(qs: QuerySet[Recommendation], spy: dict[date, Decimal]) -> tuple[Decimal, Decimal, int]:
    """(P&L of accepted evaluated trades, SPY buy-and-hold P&L of the same money and days, trades counted)."""
    rows = qs.filter(
        status=RecommendationStatus.ACCEPTED, outcome_evaluated=True, outcome_pnl__isnull=False, trade__isnull=False
    ).values_list("outcome_pnl", "actual_shares_traded", "actual_price", "trading_date", "evaluate_on")
    pnl = bench = Decimal(0)
    count = 0
    for outcome, shares, price, start, end in rows:
        pnl += outcome or Decimal(0)
        count += 1
        if start in spy and end in spy and shares is not None and price is not None:
            bench += shares * price * (spy[end] / spy[start] - 1)
    return pnl.quantize(Decimal("0.01")), bench.quantize(Decimal("0.01")), count


def group_figures(qs: QuerySet[Recommendation], spy: dict[date, Decimal], users: int = 0) -> dict[str, Any]:
    """The figures of one set of recommendations (see the module docstring); ``users``: how many users it covers."""
    stats = recommendation_stats(recommendations=qs)
    pnl, bench, trades = _pnl(qs, spy)
    decisions = qs.filter(recommendation_type__in=DECISION_TYPES)
    return {
        "shown": stats.total,
        "decisions": decisions.count(),
        "folded": decisions.filter(model_features__personalisation__folded=True).count(),
        "answered": stats.answered,
        "accepted": stats.accepted,
        "accepted_per_user": _round(stats.accepted / users, 2) if users else None,
        "acceptance_rate": _round(stats.acceptance_rate),
        "evaluated": stats.evaluated,
        "accuracy": _round(stats.accuracy),
        "base_rate": _round(stats.base_rate),
        "trades": trades,
        "pnl": float(pnl),
        "benchmark_pnl": float(bench),
    }


def weekly(qs: QuerySet[Recommendation], sessions: list[date], spy: dict[date, Decimal], users: int = 0) -> list[dict[str, Any]]:
    weeks: dict[date, list[date]] = defaultdict(list)
    for day in sessions:
        weeks[_week_start(day)].append(day)
    out = []
    for number, (start, days) in enumerate(sorted(weeks.items()), start=1):
        figures = group_figures(qs.filter(trading_date__gte=days[0], trading_date__lte=days[-1]), spy, users)
        out.append({"week": number, "week_start": start.isoformat(), "sessions": len(days), **figures})
    return out


def _spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation of two equal-length lists, ties given their average rank (the textbook
    definition: three symbols a persona is indifferent to are one tied rank, not an arbitrary order); ``None``
    when either list is constant or shorter than 3."""
    from scipy.stats import spearmanr

    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(spearmanr(a, b).statistic)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def persona_figures(persona: Persona, sims: list[SimUser]) -> dict[str, Any]:
    """Hidden preferences against the learned profiles of the persona's personalised users, with match measures.

    ``symbol_rank_correlation``: Spearman correlation over the five stocks between the hidden per-symbol
    adjustment and the mean learned symbol acceptance rate (``None`` when the persona has no symbol preference);
    ``symbol_rank_correlation_revealed``: the same over the stocks the persona *revealed* a preference on, those with
    at least :data:`REVEALED_ANSWERS` answered cards its hard rules (minimum confidence, maximum risk) let through
    (``learned.revealed_symbols``): a stock whose cards were all below the persona's minimum confidence was rejected
    for that, whatever the persona thinks of the stock, so no learner can rank it;
    ``confidence_threshold_error``: |mean learned threshold - hidden minimum confidence| (``None`` when either is
    absent); ``size_fraction_error``: |mean learned size fraction - hidden size fraction| over the users who traded.
    """
    ids = [s.user.pk for s in sims]
    stored = dict(UserPreferenceProfile.objects.filter(user_id__in=ids).values_list("user_id", "profile"))
    passed: dict[str, int] = defaultdict(int)
    for symbol, confidence, risk in Recommendation.objects.filter(
        user_id__in=ids, recommendation_type__in=DECISION_TYPES, status__in=ANSWERED
    ).values_list("symbol", "confidence_score", "risk_score"):
        if float(confidence) >= persona.min_confidence and float(risk or 0) <= persona.max_risk_score:
            passed[symbol] += 1
    profiles = [Profile.from_dict(stored.get(uid)) for uid in ids]
    symbol_rates = {s: _mean([p.symbol_rates[s] for p in profiles if s in p.symbol_rates]) for s in TRADABLE}
    thresholds = [p.confidence_threshold for p in profiles if p.confidence_threshold is not None]
    learned_threshold = _mean(thresholds)
    # Only users who traded reveal a size: the neutral 1.0 of one who never did is no estimate.
    fractions = [p.size_fraction for p in profiles if p.size_fraction is not None]
    size_fraction = _mean(fractions)
    reads = [p.cards_read for p in profiles if p.cards_read is not None]
    answered = [s for s in TRADABLE if symbol_rates[s] is not None]
    hidden_adj = [persona.symbol_adjustments.get(s, 0.0) for s in answered]
    revealed = [s for s in answered if passed[s] >= REVEALED_ANSWERS]
    learned = {
        "users": len(profiles),
        "responses": int(sum(p.responses for p in profiles)),
        "acceptance_rate": _round(_mean([p.acceptance_rate for p in profiles])),
        "symbol_rates": {s: _round(v) for s, v in symbol_rates.items()},
        "confidence_threshold": _round(learned_threshold),
        "users_with_threshold": len(thresholds),
        "size_fraction": _round(size_fraction),
        "users_with_size": len(fractions),
        "size_scale_applied": _round(_mean([p.size_scale for p in profiles])),
        "cards_read": _round(_mean(reads)),
        "users_with_cards_read": len(reads),
        "revealed_symbols": revealed,
    }
    match = {
        "symbol_rank_correlation": _round(_spearman(hidden_adj, [float(symbol_rates[s] or 0.0) for s in answered])),
        "symbol_rank_correlation_revealed": _round(
            _spearman(
                [persona.symbol_adjustments.get(s, 0.0) for s in revealed], [float(symbol_rates[s] or 0.0) for s in revealed]
            )
        ),
        "confidence_threshold_error": _round(abs(learned_threshold - persona.min_confidence))
        if learned_threshold is not None and persona.min_confidence > 0
        else None,
        "size_fraction_error": _round(abs(size_fraction - persona.size_fraction)) if size_fraction is not None else None,
    }
    return {
        "name": persona.name,
        "description": persona.description,
        "hidden": persona.hidden(),
        "learned": learned,
        "match": match,
    }


def _ceiling_day(persona: Persona, cards: list[Recommendation]) -> tuple[int, float]:
    """(answered, expected accepted) of one user-day of ``cards`` under the all-knowing personaliser."""
    from recommendations.services.personalise import risk_rule_sale

    scored = []
    for rec in cards:
        card = Card.of(rec)
        decision = card.action in DECISION_TYPES
        risk_sale = risk_rule_sale(rec)
        p = persona.acceptance_probability(card) if decision else 0.0
        if decision and not risk_sale and p <= 0.0:
            continue  # folded: the persona's own rules reject it
        tier = 0 if risk_sale else 1 if decision else 2
        scored.append((tier, -p, decision, p))
    scored.sort(key=lambda row: (row[0], row[1]))
    read = scored if persona.attention is None else scored[: persona.attention]
    answered = [p for _tier, _neg, decision, p in read if decision]
    return len(answered), sum(persona.noise / 2 + (1 - persona.noise) * p for p in answered)


def ceiling_figures(result: SimulationResult) -> dict[str, Any]:
    """The all-knowing personaliser's acceptance on the control group's cards (the personalised group's without one),
    overall, from week 3 and per week (see the module docstring)."""
    personalised = not result.config.control
    sims = {s.user.pk: s for s in result.users if s.personalised is personalised}
    per_day: dict[tuple[int, date], list[Recommendation]] = defaultdict(list)
    for rec in Recommendation.objects.filter(user_id__in=list(sims)).order_by("user_id", "trading_date", "priority", "symbol"):
        per_day[(rec.user_id, rec.trading_date)].append(rec)
    first_week = _week_start(result.sessions[0])
    weeks: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (user_id, day), cards in per_day.items():
        answered, accepted = _ceiling_day(sims[user_id].persona, cards)
        week = (_week_start(day) - first_week).days // 7 + 1
        weeks[week][0] += answered
        weeks[week][1] += accepted

    def rate(rows: list[list[float]]) -> float | None:
        answered = sum(r[0] for r in rows)
        return _round(sum(r[1] for r in rows) / answered) if answered else None

    return {
        "group": "personalised" if personalised else "control",
        "acceptance_rate": rate(list(weeks.values())),
        "acceptance_rate_from_week_3": rate([v for k, v in weeks.items() if k >= 3]),
        "weeks": [{"week": k, "answered": round(v[0]), "acceptance_rate": rate([v])} for k, v in sorted(weeks.items())],
    }


def simulation_report(result: SimulationResult) -> dict[str, Any]:
    """The whole report as plain JSON (see the module docstring); reads the simulation's rows from the database."""
    cfg = result.config
    spy = dict(PriceBar.objects.filter(symbol=BENCHMARK).values_list("date", "close"))
    settled_from = cfg.start + timedelta(days=SETTLING_DAYS)
    groups: dict[bool, QuerySet[Recommendation]] = {
        personalised: Recommendation.objects.filter(
            user_id__in=[s.user.pk for s in result.users if s.personalised is personalised]
        )
        for personalised in (True, False)
    }

    def section(qs: QuerySet[Recommendation], personalised: bool) -> dict[str, Any]:
        users = sum(1 for s in result.users if s.personalised is personalised)
        overall = group_figures(qs, spy, users)
        weeks = weekly(qs, result.sessions, spy, users)
        week3 = [w for w in weeks if w["week"] >= 3]
        answered3 = sum(w["answered"] for w in week3)
        return {
            **overall,
            "acceptance_rate_first_week": group_figures(
                qs.filter(trading_date__lt=_week_start(result.sessions[0]) + timedelta(days=7)), spy
            )["acceptance_rate"],
            "acceptance_rate_after_30_days": group_figures(qs.filter(trading_date__gte=settled_from), spy)["acceptance_rate"],
            "acceptance_rate_from_week_3": _round(sum(w["accepted"] for w in week3) / answered3) if answered3 else None,
            "accepted_per_user_from_week_3": _round(sum(w["accepted"] for w in week3) / users, 2) if week3 and users else None,
            "weeks": weeks,
        }

    report = section(groups[True], True)
    by_persona: dict[str, list[SimUser]] = defaultdict(list)
    for sim in result.users:
        if sim.personalised:
            by_persona[sim.persona.name].append(sim)
    report["personas"] = [persona_figures(p, by_persona[p.name]) for p in cfg.personas if by_persona[p.name]]
    for entry in report["personas"]:
        for personalised, key in ((True, "observed_acceptance_rate"), (False, "control_acceptance_rate")):
            ids = [s.user.pk for s in result.users if s.persona.name == entry["name"] and s.personalised is personalised]
            figures = group_figures(Recommendation.objects.filter(user_id__in=ids), spy, len(ids)) if ids else None
            entry[key] = figures["acceptance_rate"] if figures else None
            entry[key.replace("acceptance_rate", "accepted_per_user")] = figures["accepted_per_user"] if figures else None
    report["control"] = section(groups[False], False) if cfg.control else None
    report["ceiling"] = ceiling_figures(result)
    report["config"] = {
        "users": cfg.users,
        "days": cfg.days,
        "start": cfg.start.isoformat(),
        "first_session": result.sessions[0].isoformat(),
        "last_session": result.sessions[-1].isoformat(),
        "seed": cfg.seed,
        "models": list(cfg.models),
        "retrain_every": cfg.retrain_every,
        "acceptance_every": cfg.acceptance_every,
        "control": cfg.control,
        "personas": [p.name for p in cfg.personas],
    }
    report["retrains"] = result.retrains
    report["refused_trades"] = result.refused_trades
    report["generation_notes"] = result.generation_notes[:20]
    report["seconds"] = round(result.seconds, 1)
    return report


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:5.1f}%" if pct else f"{value:,.0f}"


def format_report(report: dict[str, Any]) -> str:
    """The stdout table: one line per week (personalised group, control beside it), then the totals and personas."""
    control_weeks = {w["week"]: w for w in (report.get("control") or {}).get("weeks", [])}
    lines = [
        "Acceptance = accepted / answered BUY and SELL cards (a HOLD is information and asks nothing).",
        f"{'week':>4} {'start':>10} {'cards':>5} {'dec':>4} {'fold':>4} {'answ':>5} {'acc':>4} {'accept':>7} "
        f"{'| ctl':>5} {'answ':>5} {'acc':>4} {'accept':>7} {'pnl':>9} {'SPY b&h':>9} {'ctl pnl':>9}",
    ]
    for w in report["weeks"]:
        ctl = control_weeks.get(w["week"], {})
        lines.append(
            f"{w['week']:>4} {w['week_start']:>10} {w['shown']:>5} {w['decisions']:>4} {w['folded']:>4} {w['answered']:>5} "
            f"{w['accepted']:>4} {_fmt(w['acceptance_rate'], True):>7} {'|':>5} {ctl.get('answered', '-'):>5} "
            f"{ctl.get('accepted', '-'):>4} {_fmt(ctl.get('acceptance_rate'), True):>7} {_fmt(w['pnl']):>9} "
            f"{_fmt(w['benchmark_pnl']):>9} {_fmt(ctl.get('pnl')):>9}"
        )
    ctl = report.get("control") or {}
    lines.append(
        f"overall: acceptance {_fmt(report['acceptance_rate'], True)} (control {_fmt(ctl.get('acceptance_rate'), True)}); "
        f"accepted per user {report['accepted_per_user']} (control {ctl.get('accepted_per_user')}); "
        f"from week 3: {_fmt(report['acceptance_rate_from_week_3'], True)} (control "
        f"{_fmt(ctl.get('acceptance_rate_from_week_3'), True)}), accepted per user {report['accepted_per_user_from_week_3']} "
        f"(control {ctl.get('accepted_per_user_from_week_3')})"
    )
    ceiling = report.get("ceiling") or {}
    if ceiling:
        lines.append(
            f"ceiling (a personaliser knowing every hidden preference, on the {ceiling['group']} group's cards): "
            f"{_fmt(ceiling['acceptance_rate'], True)}, from week 3 {_fmt(ceiling['acceptance_rate_from_week_3'], True)}; "
            "by week " + ", ".join(_fmt(w["acceptance_rate"], True).strip() for w in ceiling["weeks"])
        )
    lines.append(
        f"accuracy {_fmt(report['accuracy'], True)} vs base rate {_fmt(report['base_rate'], True)}; P&L of accepted trades "
        f"{_fmt(report['pnl'])} vs SPY buy-and-hold of the same money {_fmt(report['benchmark_pnl'])} (control "
        f"{_fmt(ctl.get('pnl'))} vs {_fmt(ctl.get('benchmark_pnl'))})"
    )
    lines.append(
        f"acceptance first week {_fmt(report['acceptance_rate_first_week'], True)}, after {SETTLING_DAYS} days "
        f"{_fmt(report['acceptance_rate_after_30_days'], True)} (control {_fmt(ctl.get('acceptance_rate_first_week'), True)} "
        f"-> {_fmt(ctl.get('acceptance_rate_after_30_days'), True)})"
    )
    for p in report["personas"]:
        m, h, learned = p["match"], p["hidden"], p["learned"]
        lines.append(
            f"persona {p['name']}: acceptance {_fmt(p['observed_acceptance_rate'], True)} (control "
            f"{_fmt(p['control_acceptance_rate'], True)}); symbol rank corr {m['symbol_rank_correlation']} "
            f"({m['symbol_rank_correlation_revealed']} over the {len(learned['revealed_symbols'])} stocks it revealed); "
            f"min confidence {h['min_confidence']} vs learned {learned['confidence_threshold']} "
            f"({learned['users_with_threshold']}/{learned['users']} users); size {h['size_fraction']} vs learned "
            f"{learned['size_fraction']} ({learned['users_with_size']} users); attention {h['attention'] or 'all'} vs "
            f"cards read {learned['cards_read'] if learned['cards_read'] is not None else 'all'}"
        )
    for r in report.get("retrains", []):
        lines.append(
            f"retrain before {r['before']} (bars to {r['trained_until']}): {r['status']}, "
            f"{'promoted' if r['promoted'] else 'not promoted'} ({r['seconds']} s)"
        )
    return "\n".join(lines)
