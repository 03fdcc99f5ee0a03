"""The Backtesting lab pages: start a run and list yours (``lab``), and one run's report (``run``).

Signed-in users only; runs are looked up within what the user may see, so another investor's run id
answers 404. The pages call the same services and selectors as the API; numbers are formatted here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import apply_service_errors
from accounts.ratelimits import rate_limit_check
from backtesting import selectors, services
from backtesting.forms import BacktestForm
from backtesting.models import BacktestRun
from backtesting.report import (
    MAX_COMPARED,
    MONTHS,
    SPLIT_METRICS,
    comparison_rows,
    heatmap_rows,
    history_brief,
    history_summary,
    metric_rows,
    validation_verdicts,
)
from backtesting.systems import SYSTEMS
from quantai.errors import NotFound, ValidationFailed

RECENT_RUNS = 50


@login_required
@require_http_methods(["GET", "POST"])
def lab_view(request: HttpRequest) -> HttpResponse:
    form = BacktestForm(request.POST or None)
    if request.method == "POST":
        blocked = rate_limit_check(request, name="backtest", key="user")
        if blocked is not None:
            return blocked
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = services.backtest_create(
                    user=request.user,
                    system=data["system"],
                    params=form.parameters(),
                    start=data["start"],
                    end=data["end"],
                    split=data["split_date"],
                    commission_bps=data["commission_bps"],
                    slippage_bps=data["slippage_bps"],
                    execution=data["execution"],
                    seed=data["seed"],
                )
            except ValidationFailed as exc:
                apply_service_errors(form, exc, form.service_field_map())
            else:
                messages.success(request, f"Backtest #{run.pk} started.")
                return redirect("backtesting:run", run_id=run.pk)
    runs = BacktestRun.objects.filter(owner_id=request.user.pk).order_by("-created_at", "-id")[:RECENT_RUNS]
    rows = [{"run": run, "history": history_brief(run.results or {})} for run in runs]
    selected = form.data.get("system") or form.fields["system"].initial
    return render(
        request,
        "backtesting/lab.html",
        {"form": form, "rows": rows, "fieldsets": form.system_fieldsets(), "selected_system": selected, "systems": SYSTEMS},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_GET
def run_view(request: HttpRequest, run_id: str) -> HttpResponse:
    try:
        run = selectors.backtest_run_get(user=request.user, run_id=run_id)
    except NotFound:
        raise Http404("No such backtest.") from None
    results = run.results or {}
    context: dict[str, Any] = {"run": run, "results": results, "system": SYSTEMS.get(run.system)}
    if run.status == "succeeded" and results.get("metrics"):
        metrics = results["metrics"]
        context.update(
            metric_rows=metric_rows(metrics, "full"),
            in_sample_rows=metric_rows(metrics, "in_sample", SPLIT_METRICS),
            out_of_sample_rows=metric_rows(metrics, "out_of_sample", SPLIT_METRICS),
            verdicts=validation_verdicts(results),
            sweep=sorted(results.get("sweep", []), key=lambda r: -(r["in_sample_sharpe"] or -1e9))[:20],
            chart_data={"curve": run.equity_curve},
            heatmap=heatmap_rows((results.get("monthly_returns") or {}).get("strategy") or []),
            months=MONTHS,
            model=results.get("model"),
            orders=_selected_orders(results),
            history=history_summary(results),
        )
    return render(request, "backtesting/run.html", context)


def _selected_orders(results: dict[str, Any]) -> dict[str, int]:
    """The engine replay's filled orders per side for the parameter set shown (empty for other systems)."""
    filled = (results.get("model") or {}).get("orders_filled") or {}
    pick = int((results.get("selected") or {}).get("index") or 0)
    return {side: counts[pick] for side, counts in filled.items() if pick < len(counts)}


@login_required
@require_GET
def compare_view(request: HttpRequest) -> HttpResponse:
    """Up to four runs side by side: their metrics as columns and their equity curves overlaid.

    ``?runs=<id>&runs=<id>...``; every id must be a run the user may see (else 404, like a run's page).
    """
    ids = list(dict.fromkeys(v for v in request.GET.getlist("runs") if v != ""))
    error = ""
    runs: list[BacktestRun] = []
    if len(ids) > MAX_COMPARED:
        error = f"Choose at most {MAX_COMPARED} runs to compare; you chose {len(ids)}."
    else:
        try:
            runs = [selectors.backtest_run_get(user=request.user, run_id=run_id) for run_id in ids]
        except NotFound:
            raise Http404("No such backtest.") from None
    curves = [
        {
            "label": f"#{run.pk} {run.get_system_display()}",
            "dates": run.equity_curve.get("dates", []),
            "values": run.equity_curve.get("strategy", []),
        }
        for run in runs
        if run.status == "succeeded" and run.equity_curve
    ]
    context = {
        "runs": runs,
        "rows": comparison_rows(runs),
        "chart_data": {"curves": curves},
        "error": error,
        "max_compared": MAX_COMPARED,
        "choices": BacktestRun.objects.filter(owner_id=request.user.pk, status="succeeded").order_by("-created_at", "-id")[
            :RECENT_RUNS
        ],
    }
    return render(request, "backtesting/compare.html", context, status=400 if error else 200)
