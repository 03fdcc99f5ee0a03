"""Server-rendered recommendation pages: today's cards (answered with htmx), one recommendation, the history.

Signed-in users only; every recommendation is looked up within ``request.user``'s rows, so another
investor's id answers 404. Answers go through :func:`recommendations.services.recommendation_respond`, the
same service as the API and the terminal command; feedback alone (in any status, without answering) goes
through :func:`recommendations.services.recommendation_feedback`, the same as the feedback API. A card's form
works without JavaScript too (a normal POST that redirects back); with htmx it swaps in the updated card and the
page does not reload.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from market.models import PriceBar
from quantai.errors import ApplicationError
from quantai.flags import Flag, flag_enabled
from recommendations import selectors, services
from recommendations.forms import HistoryFilterForm, RespondForm
from recommendations.models import Recommendation
from recommendations.services.evaluate import HOLD_BAND
from recommendations.stats import DECISION_TYPES, recommendation_stats

HISTORY_PER_PAGE = 50
#: Calendar days of closes sent before the signal day for the detail chart: a little over a year, so its 1Y
#: range button has a year to show (the page filters them by range in the browser).
CHART_DAYS_BEFORE = 400


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _own_recommendation(user: User, recommendation_id: str) -> Recommendation:
    """The user's recommendation with this id, or 404 (another investor's id answers 404 too)."""
    if not str(recommendation_id).isdigit():
        raise Http404("No such recommendation.")
    rec = Recommendation.objects.filter(pk=int(recommendation_id), user=user).select_related("trade").first()
    if rec is None:
        raise Http404("No such recommendation.")
    return rec


def no_model_reason() -> str:
    """Why no recommendation can be made at all, or "" when an active ensemble model exists.

    Only the registry row is read: the page must not load a model (or import ML libraries) to say this.
    """
    try:
        from learning import selectors as learning_selectors
        from learning.models import ModelKind
    except ImportError:  # the learning app is optional for this module
        return "the learning app is not installed, so there is no model to make recommendations"
    if learning_selectors.active_version(kind=ModelKind.ENSEMBLE) is None:
        return (
            "no model has been trained yet: the first training runs in the background after the site starts,"
            " and recommendations appear on this page as soon as they are made"
        )
    return ""


def first_recommendations_progress() -> dict[str, Any] | None:
    """While there are no cards and a training run is queued or running (a fresh installation's first start): its
    percent and stage, for the progress bar on the page. ``None`` otherwise."""
    try:
        from learning import selectors as learning_selectors
    except ImportError:  # the learning app is optional for this module
        return None
    run = learning_selectors.run_in_progress()
    if run is None:
        return None
    return {"percent": run.progress, "stage": run.stage or run.get_status_display().lower()}


def _held_symbols(user_id: int) -> set[str]:
    from portfolios.models import Position

    return set(Position.objects.filter(user_id=user_id, shares__gt=0).values_list("symbol", flat=True))


def _card_context(
    rec: Recommendation, form: RespondForm | None = None, error: str = "", held: set[str] | None = None
) -> dict[str, Any]:
    # A HOLD asks nothing (no accept/reject): it says there is nothing to do today, for a stock held or not.
    asks_decision = rec.recommendation_type in DECISION_TYPES
    pending = rec.is_pending and not services.is_expired(rec)
    answerable = pending and asks_decision
    personal = (rec.model_features or {}).get("personalisation") or {}
    if held is None and not asks_decision:
        held = _held_symbols(rec.user_id)
    return {
        "rec": rec,
        "answerable": answerable,
        "information": not asks_decision,
        "information_current": pending and not asks_decision,
        "held": rec.symbol in (held or set()),
        "folded": bool(personal.get("folded")) and answerable,
        # Any status may be rated (pending and expired too), once from the card.
        "can_give_feedback": rec.user_feedback_score is None and not rec.user_feedback_comment,
        "feedback_on": flag_enabled(Flag.USER_FEEDBACK),
        "form": form or RespondForm(initial={"shares": rec.recommended_shares.normalize()}),
        "error": error,
    }


@login_required
@require_GET
def today_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    recs = list(selectors.recommendations_for_user(user=user, scope="today"))
    held = _held_symbols(user.pk)
    cards = [_card_context(r, held=held) for r in recs]
    context = {
        # Folded cards ("below what you usually act on") are one click away, after the others.
        "cards": [c for c in cards if not c["folded"]],
        "folded_cards": [c for c in cards if c["folded"]],
        "trading_date": recs[0].trading_date if recs else None,
        "no_model_reason": "" if recs else no_model_reason(),
        "progress": None if recs else first_recommendations_progress(),
        "pending": sum(1 for c in cards if c["answerable"]),
    }
    return render(request, "recommendations/today.html", context)


@login_required
@require_GET
def card_view(request: HttpRequest, recommendation_id: str) -> HttpResponse:
    """One card as an HTML fragment: what the page fetches when a recommendation arrives live."""
    rec = _own_recommendation(_user(request), recommendation_id)
    return render(request, "recommendations/_card.html", _card_context(rec))


@login_required
def respond_view(request: HttpRequest, recommendation_id: str) -> HttpResponse:
    """Accept, reject or add feedback. htmx gets the updated card (200 even on a refusal, so it is swapped in)."""
    user = _user(request)
    # Ownership first: another investor's id is 404 whatever the method, so ids are not an oracle.
    rec = _own_recommendation(user, recommendation_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form: RespondForm | None = RespondForm(request.POST)
    error = ""
    feedback_only = False
    if form is not None and form.is_valid():
        data = form.cleaned_data
        answer = data["answer"]
        feedback_only = answer == "feedback"
        try:
            if feedback_only:  # rates the card without answering it, whatever its status
                rec = services.recommendation_feedback(
                    user=user, recommendation_id=rec.pk, score=data["feedback_score"], comment=data["comment"] or None
                )
            else:
                rec = services.recommendation_respond(
                    user=user,
                    recommendation_id=rec.pk,
                    accept=answer == "accept",
                    shares=data["shares"] if data["shares"] != rec.recommended_shares else None,
                    feedback_score=data["feedback_score"],
                    comment=data["comment"] or None,
                ).recommendation
            form = None
        except ApplicationError as exc:
            details = [m for msgs in (exc.fields or {}).values() for m in msgs]
            error = " ".join(details) or exc.message
            rec.refresh_from_db()
    elif form is not None:
        error = " ".join(str(m) for msgs in form.errors.values() for m in msgs)
    if request.headers.get("HX-Request") == "true":
        return render(request, "recommendations/_card.html", _card_context(rec, form, error))
    if error:
        messages.error(request, f"{rec.symbol}: {error}")
    elif feedback_only:
        messages.success(request, f"{rec.get_recommendation_type_display()} {rec.symbol}: thank you for your feedback.")
    else:
        messages.success(request, f"{rec.get_recommendation_type_display()} {rec.symbol}: {rec.get_status_display().lower()}.")
    return redirect("recommendations:today")


def _chart_data(rec: Recommendation) -> dict[str, Any]:
    """Closes around the signal day (up to the horizon day once it has passed) and the marks to draw on them."""
    start = rec.trading_date - timedelta(days=CHART_DAYS_BEFORE)
    end = max(rec.evaluate_on, rec.trading_date)
    bars = PriceBar.objects.filter(symbol=rec.symbol, date__gte=start, date__lte=end).order_by("date")
    series = [{"time": d.isoformat(), "value": str(c)} for d, c in bars.values_list("date", "close")]
    markers = [{"time": rec.trading_date.isoformat(), "kind": "signal", "text": f"{rec.recommendation_type} signal"}]
    if rec.outcome_evaluated and rec.outcome_date:
        markers.append({"time": rec.outcome_date.isoformat(), "kind": "outcome", "text": "Horizon"})
    contributions = [{"feature": str(n), "value": float(v)} for n, v in rec.top_contributions]  # type: ignore[arg-type]
    return {
        "symbol": rec.symbol,
        "series": series,
        "markers": markers,
        "price": str(rec.recommended_price),
        "target": None if rec.price_target is None else str(rec.price_target),
        "contributions": contributions,
    }


def _percent(value: Any) -> str:
    if value is None:
        return "\N{EN DASH}"
    return f"{float(value) * 100:+.1f} %"


def _conditions(mc: dict[str, Any]) -> list[tuple[str, str]]:
    """The market_conditions JSON as labelled lines (missing parts are simply left out)."""
    rows: list[tuple[str, str]] = []
    symbol = mc.get("symbol") or {}
    spy = mc.get("spy") or {}
    if "market" in mc:
        rows.append(("Market (SPY vs its 200-day average)", str(mc["market"])))
    for label, part in (("Stock", symbol), ("SPY", spy)):
        if not part:
            continue
        rows.append((f"{label} trend", str(part.get("trend", "unknown"))))
        rows.append((f"{label} volatility", str(part.get("volatility_level", "unknown"))))
        rows.append((f"{label} 20-day return", _percent(part.get("return_20d"))))
        rows.append((f"{label} annualised volatility (20 days)", _percent(part.get("volatility_20d")).lstrip("+")))
    return rows


def _share(value: Any, places: int = 1) -> str | None:
    """A stored fraction (number or decimal string) as a percentage, or None when it is missing or not a number."""
    try:
        return f"{float(value) * 100:.{places}f} %"
    except (TypeError, ValueError):
        return None


def _risk_checks(sizing: dict[str, Any]) -> list[tuple[str, str]]:
    """The sizing checks stored with the recommendation, as the investor reads them."""
    rows: list[tuple[str, str]] = []
    if sizing.get("profile"):
        rows.append(("Risk profile", str(sizing["profile"])))
    weight, limit = _share(sizing.get("weight_after")), _share(sizing.get("max_weight"))
    if weight and limit:
        rows.append(("Position weight after", f"{weight} (limit {limit})"))
    var, budget = _share(sizing.get("var_after_pct"), 2), _share(sizing.get("var_budget_1d_95"), 2)
    if var and budget:
        rows.append(("Portfolio 1-day VaR 95 % after", f"{var} of equity (budget {budget})"))
    kelly, fraction = _share(sizing.get("kelly_full")), sizing.get("kelly_fraction")
    if kelly and fraction:
        rows.append(("Full Kelly stake", f"{kelly}, scaled by {fraction} for the profile"))
    return rows


_DRIVERS = {
    "risk_budget": "the volatility target (an equal share of risk)",
    "trend_partial": "the trend filter (trend partly positive)",
    "trend_off": "the trend filter (downtrend: hold none)",
    "vol_up": "a rise in forecast volatility",
    "vol_down": "a fall in forecast volatility",
    "brake": "the drawdown brake",
    "tilt": "the direction model's tilt",
}


def _policy_rows(policy: dict[str, Any] | None, skill: Any) -> list[tuple[str, str]]:
    """What set the policy's target for this card (stored with it at generation), as the investor reads it."""
    if not policy:
        return []
    rows = [("Driven by", _DRIVERS.get(str(policy.get("driver")), str(policy.get("driver", ""))))]
    for label, key in (("Target weight", "weight"), ("Before brake and tilt", "base_weight")):
        value = _share(policy.get(key))
        if value:
            rows.append((label, value))
    vol, before = _share(policy.get("volatility")), _share(policy.get("volatility_before"))
    if vol:
        rows.append(("Forecast volatility (a year)", f"{vol}" + (f" (ten sessions ago {before})" if before else "")))
    trend = policy.get("trend")
    if isinstance(trend, int | float):
        rows.append(("Trend score", f"{trend:.2f} of 1"))
    brake = _share(policy.get("brake"))
    if brake and policy.get("brake") != 1:
        rows.append(("Drawdown brake", f"exposure at {brake}"))
    target_vol = _share(policy.get("target_vol"))
    if target_vol:
        rows.append(("Portfolio volatility target", target_vol))
    tilt = policy.get("tilt")
    skill_value = float(skill) if isinstance(skill, int | float) else 0.0
    if skill_value > 0 and isinstance(tilt, int | float):
        rows.append(("Model tilt", f"{tilt * 100:+.1f} % (skill {skill_value:.2f})"))
    else:
        rows.append(("Model tilt", "none: no out-of-sample edge found"))
    return rows


@login_required
@require_GET
def detail_view(request: HttpRequest, recommendation_id: str) -> HttpResponse:
    rec = _own_recommendation(_user(request), recommendation_id)
    features = rec.model_features or {}
    values = features.get("feature_values") or {}
    context = {
        **_card_context(rec),
        "chart": _chart_data(rec),
        "contributions": [(n, v, values.get(n)) for n, v in rec.top_contributions],
        "conditions": _conditions(rec.market_conditions or {}),
        "risk_checks": _risk_checks(features.get("sizing") or {}),
        "model_label": features.get("model_label") or "",
        "policy_rows": _policy_rows(features.get("policy"), features.get("skill")),
        "components": sorted((features.get("components") or {}).items()),
        "combiner_weights": sorted((features.get("combiner_weights") or {}).items()),
        "on_detail": True,
    }
    return render(request, "recommendations/detail.html", context)


@login_required
@require_GET
def history_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    filters = HistoryFilterForm(request.GET or None)
    wanted = filters.cleaned_data if filters.is_valid() else {}
    qs = selectors.recommendations_for_user(
        user=user,
        scope="history",
        status=wanted.get("status") or None,
        symbol=wanted.get("symbol") or None,
        action=wanted.get("action") or None,
    )
    page = Paginator(qs, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    # The one definition of accuracy, base rate and acceptance (BUY and SELL answers only), over the filtered rows.
    summary = recommendation_stats(recommendations=qs, calibration=False)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "summary": summary,
        "hold_band_pct": HOLD_BAND * 100,
    }
    return render(request, "recommendations/history.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def learned_view(request: HttpRequest) -> HttpResponse:
    """What QuantAI has learned about the signed-in user (linked from Settings); POST resets it."""
    user = _user(request)
    if request.method == "POST":
        services.preference_profile_reset(user=user)
        messages.success(request, "QuantAI has forgotten what it learned about you; it starts again from your next answers.")
        return redirect("recommendations:learned")
    # Imported here: personalisation brings numpy, which the other pages of a web process do not need.
    from recommendations.core.learned_profile import NEUTRAL, Profile, learned_summary

    row = selectors.preference_profile_of(user=user)
    profile = Profile.from_dict(row.profile) if row is not None else NEUTRAL
    context = {
        "summary": learned_summary(profile),
        "row": row,
        "personalised": flag_enabled(Flag.PERSONALISED_RECOMMENDATIONS),
    }
    return render(request, "recommendations/learned.html", context)
