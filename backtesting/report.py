"""The numbers of a backtest in words and tables, for the pages and ``manage.py run_backtest`` (no Django)."""

from __future__ import annotations

from typing import Any

#: metric -> (label, format): "pct" percent, "num" two decimals, "days" whole number.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("total_return", "Total return", "pct"),
    ("annual_return", "Annual return (CAGR)", "pct"),
    ("volatility", "Volatility (annual)", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("calmar", "Calmar", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("max_drawdown_days", "Longest drawdown (days)", "days"),
    ("win_rate", "Win rate (days with a return)", "pct"),
    ("profit_factor", "Profit factor (days)", "num"),
    ("trades", "Closed trades (round trips)", "days"),
    ("trade_win_rate", "Win rate (per closed trade)", "pct"),
    ("trade_profit_factor", "Profit factor (per closed trade)", "num"),
    ("turnover", "Turnover (per year)", "num"),
    ("exposure", "Exposure (gross)", "pct"),
    ("var_95", "1-day VaR 95 %", "pct"),
    ("cvar_95", "1-day CVaR 95 %", "pct"),
    ("beta", "Beta to SPY", "num"),
    ("alpha", "Alpha to SPY (annual)", "pct"),
)
SPLIT_METRICS = ("annual_return", "volatility", "sharpe", "max_drawdown")
#: Heat-map buckets: a monthly return's magnitude below each bound gets that level (1 = pale .. 4 = deep).
HEAT_LEVELS = (0.01, 0.03, 0.06)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_COMPARED = 4


def fmt(value: float | None, kind: str = "num") -> str:
    """A metric for people: "pct" as a percentage, "days" whole, else two decimals; None as a dash."""
    if value is None:
        return "\u2013"  # en dash: no value
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "days":
        return f"{value:.0f}"
    return f"{value:.2f}"


def metric_rows(metrics: dict[str, Any], period: str, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Rows of label and formatted strategy / SPY / equal-weight values for one period of ``results["metrics"]``
    (none when that period was not computed)."""
    if any(metrics[side].get(period) is None for side in ("strategy", "spy", "equal_weight")):
        return []  # a period too short to split has no in-sample and out-of-sample figures
    rows = []
    for key, label, kind in METRICS:
        if names is not None and key not in names:
            continue
        rows.append(
            {
                "key": key,
                "label": label,
                "cells": [fmt(metrics[side][period].get(key), kind) for side in ("strategy", "spy", "equal_weight")],
            }
        )
    return rows


def validation_verdicts(results: dict[str, Any]) -> list[dict[str, str]]:
    """The validation figures in plain words: each a short title and what it means for this run."""
    out: list[dict[str, str]] = []
    validation = results.get("validation") or {}
    boot = (validation.get("bootstrap") or {}).get("full") or {}
    if boot.get("sharpe"):
        est, lo, hi = boot["sharpe"]
        if None not in (est, lo, hi):
            meaning = (
                "The interval lies above zero: the return is unlikely to be noise (which alone does not mean it beat SPY)."
                if lo > 0
                else "The interval includes zero: the true Sharpe may well be zero or negative."
            )
            out.append({"title": f"Sharpe {est:.2f}, 95 % CI {lo:.2f} to {hi:.2f}", "text": meaning})
    if boot.get("annual_return") and None not in boot["annual_return"]:
        est, lo, hi = boot["annual_return"]
        out.append(
            {
                "title": f"Annual return {fmt(est, 'pct')}, 95 % CI {fmt(lo, 'pct')} to {fmt(hi, 'pct')}",
                "text": f"Block bootstrap of the daily returns ({validation['bootstrap']['samples']} resamples of "
                f"{validation['bootstrap']['block_days']}-day blocks).",
            }
        )
    perm = validation.get("permutation") or {}
    if perm.get("p_value") is not None:
        p = perm["p_value"]
        verdict = "significant at the 5 % level" if p < 0.05 else "not significant"
        out.append(
            {
                "title": f"Permutation test p = {p:.3f}",
                "text": f"Randomly timed signals with the same exposure do as well {100 * p:.0f} % of the time: {verdict}.",
            }
        )
    dsr = validation.get("deflated_sharpe")
    if dsr and dsr.get("dsr") is not None:
        n = int(dsr["n_trials"] or 0)
        verdict = "clears" if dsr["dsr"] > 0.95 else "does not clear"
        out.append(
            {
                "title": f"Deflated Sharpe ratio {dsr['dsr']:.2f} ({n} parameter sets tried)",
                "text": f"The probability that the best of {n} trials has a real edge once luck from trying {n} is "
                f"removed (the best of {n} skill-less trials would reach a Sharpe of about {dsr['sr0']:.2f}). "
                f"It {verdict} the usual 0.95 bar.",
            }
        )
    pbo = validation.get("pbo")
    if pbo and pbo.get("pbo") is not None:
        value = pbo["pbo"]
        if value < 0.1:
            meaning = (
                "the best in-sample parameter set almost always stays in the top half out of sample: little sign of overfitting"
            )
        elif value < 0.3:
            meaning = "the best in-sample parameter set often stays in the top half out of sample, but not reliably"
        elif value < 0.6:
            meaning = "choosing the best parameter set is close to a coin flip"
        else:
            meaning = "the best in-sample parameter set usually lands in the bottom half out of sample: worse than a coin flip"
        out.append(
            {
                "title": f"Probability of backtest overfitting {value:.2f}",
                "text": f"PBO {value:.2f} means {meaning} ({int(pbo['combinations'] or 0)} in-sample/out-of-sample splits).",
            }
        )
    if validation and validation.get("bootstrap") is None and validation.get("min_returns"):
        out.append(
            {
                "title": "Too few days for the bootstrap and the permutation test",
                "text": f"The period gives {results['period']['days']} daily returns; they need at least "
                f"{validation['min_returns']}. Judge a period this short by its figures alone, with care.",
            }
        )
    metrics = results.get("metrics") or {}
    if metrics and metrics["strategy"].get("out_of_sample") is not None:
        s_oos, b_oos = metrics["strategy"]["out_of_sample"], metrics["spy"]["out_of_sample"]
        s_is = metrics["strategy"]["in_sample"]
        out.append(
            {
                "title": f"Out of sample: {fmt(s_oos.get('annual_return'), 'pct')} a year against SPY's "
                f"{fmt(b_oos.get('annual_return'), 'pct')}",
                "text": f"Sharpe {fmt(s_oos.get('sharpe'))} out of sample against {fmt(s_is.get('sharpe'))} in sample "
                f"(from {results['period']['split']}). A large drop is the usual sign of a strategy fitted to its past.",
            }
        )
    return out


def _count(n: int) -> str:
    return f"{n:,} session{'' if n == 1 else 's'}"


def history_summary(results: dict[str, Any]) -> list[str]:
    """What the run saw before its period, in words: where its returns start, the history the first model
    was trained on, and the warm-up bars of the indicators. Empty for results without ``history``."""
    history = results.get("history")
    if not history:
        return []
    lines = []
    if history.get("base_date"):
        lines.append(f"Returns are measured from the close of {history['base_date']}, the last session before the period.")
    model = history.get("first_model")
    if model:
        inside = model["date"] >= results["period"]["start"]
        lines.append(
            f"First model trained on {_count(model['history_sessions'])}, {model['history_start']} to {model['date']}"
            f" ({model['rows']:,} labelled rows, {model['train_start']} to {model['train_end']}; labels end "
            f"{model['label_end']})" + (": it came inside the period, with no position before it." if inside else ".")
        )
    elif (results.get("model") or {}).get("walk_forward"):
        lines.append("No model could be fitted: there were not enough labelled days of both outcomes.")
    needed, bars = history.get("warmup_needed"), int(history.get("warmup_bars") or 0)
    if needed is None:
        lines.append("This system reads no history before the period.")
    elif bars == 0:
        lines.append(f"No session before the period: the indicators started flat and need {_count(needed)} to warm up.")
    else:
        first = history.get("first_session")
        enough = "enough" if bars >= needed else f"short: the first {_count(needed - bars)} of the period are partly warm-up"
        lines.append(f"Indicators warmed up on {_count(bars)} before the period (from {first}); they need {needed:,} ({enough}).")
    return lines


def history_brief(results: dict[str, Any]) -> str:
    """The history a run saw, in a few words for a table cell ("" for results without ``history``)."""
    history = (results or {}).get("history")
    if not history:
        return ""
    model = history.get("first_model")
    if model:
        return f"first model: {_count(model['history_sessions'])}"
    if history.get("warmup_needed") is None:
        return "none needed"
    return f"{int(history.get('warmup_bars') or 0):,} warm-up bars"


def text_report(results: dict[str, Any]) -> str:
    """A plain-text report: period, history, metrics side by side, in/out of sample, and the validation verdicts."""
    period = results["period"]
    split = f"out of sample from {period['split']}" if period.get("split") else "too short to split"
    lines = [
        f"{results['system']} {period['start']} .. {period['end']} ({period['days']:,} day{'' if period['days'] == 1 else 's'}), "
        f"{split}; parameters {results['selected']['parameters']}"
        + (f" (best in sample of {results['parameter_sets']})" if results["parameter_sets"] > 1 else ""),
        *history_summary(results),
        "",
        f"{'metric':<26}{'strategy':>12}{'SPY':>12}{'equal-weight':>14}",
    ]
    for title, key, names in (
        ("full period", "full", None),
        ("in sample", "in_sample", SPLIT_METRICS),
        ("out of sample", "out_of_sample", SPLIT_METRICS),
    ):
        rows = metric_rows(results["metrics"], key, names)
        if not rows:
            continue
        lines.append(f"-- {title}")
        for row in rows:
            s, b, e = row["cells"]
            lines.append(f"{row['label']:<26}{s:>12}{b:>12}{e:>14}")
    lines.append("")
    for verdict in validation_verdicts(results):
        lines.append(f"* {verdict['title']}: {verdict['text']}")
    return "\n".join(lines)


def heat_class(value: float | None) -> str:
    """CSS class of a monthly return: ``hm-none``, or ``hm-up-N`` / ``hm-down-N`` with N 1..4 by magnitude."""
    if value is None:
        return "hm-none"
    level = 1 + sum(abs(value) >= bound for bound in HEAT_LEVELS)
    return f"hm-{'up' if value >= 0 else 'down'}-{level}"


def heatmap_rows(monthly: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per year: twelve cells (text, CSS class, value) and the compounded year (over the months present)."""
    rows = []
    for entry in monthly:
        months = entry["months"]
        present = [m for m in months if m is not None]
        total = None
        if present:
            growth = 1.0
            for m in present:
                growth *= 1.0 + m
            total = growth - 1.0
        rows.append(
            {
                "year": entry["year"],
                "cells": [
                    {"text": "" if m is None else fmt(m, "pct"), "cls": heat_class(m), "month": MONTHS[i]}
                    for i, m in enumerate(months)
                ],
                "total": {"text": fmt(total, "pct") if total is not None else "", "cls": heat_class(total)},
            }
        )
    return rows


def comparison_rows(runs: list[Any]) -> list[dict[str, Any]]:
    """Rows of label and each run's strategy figure over the full period (a dash where a run has none)."""
    rows = []
    for key, label, kind in METRICS:
        cells = []
        for run in runs:
            metrics = ((run.results or {}).get("metrics") or {}).get("strategy", {}).get("full", {})
            cells.append(fmt(metrics.get(key), kind))
        rows.append({"key": key, "label": label, "cells": cells})
    return rows
