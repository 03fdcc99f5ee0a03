"""Writes of the backtesting lab: validating and queueing a run, and running it.

- :func:`backtest_spec_clean` turns raw input (API, form, command) into a :class:`BacktestSpec`, or raises
  :class:`ValidationFailed` with one message per field (``system``, ``parameters.<name>``, ``end``, ...): a
  :class:`RuleViolation` (422 in the API) when every value is well formed and a rule refuses the request.
- :func:`backtest_create` stores a queued run and enqueues ``backtesting.tasks.run_backtest`` once the
  row is committed (``enqueue=False`` for a command that runs it in the foreground).
- :func:`backtest_run` runs a queued run through the long-job lifecycle of :mod:`quantai.jobs`: short writes
  for its state and progress (pushed live to the owner as ``job.progress``), the numerical work outside any
  transaction. A finished run is returned as it is, never re-run, so a task delivered twice changes nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from backtesting import selectors
from backtesting.model_systems import MODEL_SYSTEMS, model_history_error
from backtesting.models import BacktestRun, Execution
from backtesting.spec import MIN_SESSIONS, MIN_SPLIT_SESSIONS, MIN_SPLIT_SIDE, BacktestOutcome, BacktestSpec
from backtesting.system_types import DataError
from backtesting.systems import SYSTEMS, ParameterError, clean_parameters, parameter_grid, resolve_system
from quantai.errors import RuleViolation, ValidationFailed
from quantai.health import require_task_queue
from quantai.jobs import JobType, job_fail, job_progress_reporter, job_start, job_succeed

logger = logging.getLogger(__name__)

JOB_NAME = "backtest"
MAX_COST_BPS = Decimal("500")
MAX_SEED = 2**31 - 1

Progress = Callable[[int, str], None]


def backtest_compute(*, spec: BacktestSpec, bars: Any, progress: Progress | None = None) -> BacktestOutcome:
    """:func:`backtesting.compute.backtest_compute`, imported when a run is computed: the web process that
    validates and queues runs never loads the engine (nor pandas)."""
    from backtesting import compute

    return compute.backtest_compute(spec=spec, bars=bars, progress=progress)


def _as_date(value: date | str | None, field: str, errors: dict[str, list[str]]) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[field] = [f"{value!r} is not a date; use YYYY-MM-DD."]
        return None


def _as_bps(
    value: Decimal | float | str | None, default: str, field: str, errors: dict[str, list[str]], malformed: set[str]
) -> Decimal:
    try:
        bps = Decimal(str(value if value is not None else default))
    except InvalidOperation:
        errors[field] = ["Must be a number of basis points."]
        malformed.add(field)
        return Decimal(default)
    if not bps.is_finite() or bps < 0 or bps > MAX_COST_BPS:
        errors[field] = [f"Must be between 0 and {MAX_COST_BPS} basis points."]
    return bps.quantize(Decimal("0.01"))


def _history_problem(
    system: str,
    parameters: dict[str, list[Any]],
    start: date | None,
    end: date | None,
    split: date | None,
    coverage: dict[str, Any],
) -> str | None:
    """Why the stored prices cannot support this backtest, saying what is needed and what there is; None if
    they can. Only a truly short history is refused: any period with a session can be evaluated when the
    sessions before it warm the indicators up and train the models."""
    span = f"between {start or 'the first prices'} and {end or 'the latest prices'}"
    stored = (
        f"the stored prices run from {coverage['stored_first']} to {coverage['stored_last']}"
        if coverage.get("stored_first")
        else "no prices are stored yet"
    )
    days, before = coverage["stock_days"], coverage["days_before"]
    if days == 0:
        return f"There are no prices of the stocks {span} ({stored}); a backtest needs at least one session in its period."
    if coverage["spy_days"] == 0:
        return f"There are no SPY prices {span}; SPY is the benchmark every backtest is measured against."
    if before == 0 and days < MIN_SESSIONS:
        return (
            f"The period has {days} session and there is none before it; with nothing earlier a backtest needs "
            f"{MIN_SESSIONS} (one to decide, one to trade)."
        )
    sets = len(next(iter(parameter_grid(parameters, system).values()))) if parameters else 1
    if sets > 1 and split is None and days < MIN_SPLIT_SESSIONS:
        return (
            f"A sweep chooses its parameter set on the in-sample days, so its period needs at least "
            f"{MIN_SPLIT_SESSIONS} sessions ({MIN_SPLIT_SIDE} on each side of the split); {span} there are {days}. "
            "Give one value per parameter or a longer period."
        )
    if system in MODEL_SYSTEMS and parameters.get("min_train_days"):
        return model_history_error(
            min_train_days=int(parameters["min_train_days"][0]),
            before=before,
            inside=days,
            start=str(start) if start else None,
        )
    return None


def backtest_spec_clean(
    *,
    system: str,
    params: Mapping[str, Any] | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    split: date | str | None = None,
    commission_bps: Decimal | float | str | None = None,
    slippage_bps: Decimal | float | str | None = None,
    execution: str = Execution.NEXT_OPEN,
    seed: int = 0,
    check_data: bool = True,
) -> BacktestSpec:
    """Validate a backtest request; every problem is reported at once, per field.

    With ``check_data`` the stored prices must support the period (:func:`_history_problem`: a session in
    it, SPY, enough history for a model system's first model); a command reading CSV files passes False.

    A value that is malformed as such (an unknown system, a date that is no date) makes it a plain
    :class:`ValidationFailed`; when all are well formed and only rules refuse them (a parameter the system
    does not take or bounds, the end before the start, a period without prices) it is a :class:`RuleViolation`.
    """
    errors: dict[str, list[str]] = {}
    malformed: set[str] = set()
    parameters: dict[str, list[Any]] = {}
    system = resolve_system(system)
    if system not in SYSTEMS:
        errors["system"] = [f"Unknown system {system!r}; choose one of {', '.join(SYSTEMS)}."]
        malformed.add("system")
    elif params is not None and not isinstance(params, Mapping):
        errors["parameters"] = ["Parameters must be an object of name: value."]
        malformed.add("parameters")
    else:
        try:
            parameters = clean_parameters(system, params)
        except ParameterError as exc:
            errors.update(exc.fields)
    start_d = _as_date(start, "start", errors)
    end_d = _as_date(end, "end", errors)
    split_d = _as_date(split, "split_date", errors)
    malformed.update(field for field in ("start", "end", "split_date") if field in errors)
    if start_d and end_d and end_d < start_d:
        errors["end"] = ["The end is before the start."]
    if split_d and ((start_d and split_d <= start_d) or (end_d and split_d >= end_d)):
        errors["split_date"] = ["The split date must lie inside the period (after the start, before the end)."]
    commission = _as_bps(commission_bps, "1", "commission_bps", errors, malformed)
    slippage = _as_bps(slippage_bps, "2", "slippage_bps", errors, malformed)
    if execution not in Execution.values:
        errors["execution"] = [f"Choose one of {', '.join(Execution.values)}."]
        malformed.add("execution")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        errors["seed"] = [f"Must be a whole number from 0 to {MAX_SEED}."]
        malformed.add("seed")
    if check_data and not any(k in errors for k in ("start", "end", "system")):
        coverage = selectors.price_coverage(start=start_d, end=end_d)
        problem = _history_problem(system, parameters, start_d, end_d, split_d, coverage)
        if problem:
            errors["period"] = [problem]
    if errors:
        refusal = ValidationFailed if malformed else RuleViolation
        raise refusal("Some fields are invalid.", fields=errors)
    return BacktestSpec(
        system=system,
        parameters=parameters,
        start=start_d,
        end=end_d,
        split=split_d,
        commission_bps=float(commission),
        slippage_bps=float(slippage),
        execution=execution,
        seed=int(seed),
    )


def _enqueue(run_id: int, task_id: str) -> None:
    from backtesting.tasks import run_backtest

    run_backtest.apply_async(kwargs={"run_id": run_id}, task_id=task_id)


def backtest_create(
    *,
    user: Any,
    system: str,
    params: Mapping[str, Any] | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    split: date | str | None = None,
    commission_bps: Decimal | float | str | None = None,
    slippage_bps: Decimal | float | str | None = None,
    execution: str = Execution.NEXT_OPEN,
    seed: int = 0,
    enqueue: bool = True,
) -> BacktestRun:
    """Validate, store a queued run for ``user`` and (with ``enqueue``) queue its task after the commit."""
    spec = backtest_spec_clean(
        system=system,
        params=params,
        start=start,
        end=end,
        split=split,
        commission_bps=commission_bps,
        slippage_bps=slippage_bps,
        execution=execution,
        seed=seed,
    )
    if enqueue:
        require_task_queue()  # Redis down: 503 before storing a run that no worker would ever take
    with transaction.atomic():
        run = BacktestRun.objects.create(
            owner=user,
            system=spec.system,
            parameters=spec.parameters,
            start=spec.start,
            end=spec.end,
            split_date=spec.split,
            commission_bps=Decimal(str(spec.commission_bps)),
            slippage_bps=Decimal(str(spec.slippage_bps)),
            execution=spec.execution,
            seed=spec.seed,
            task_id=str(uuid.uuid4()) if enqueue else "",
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run.pk, run.task_id))
    logger.info("backtest #%s (%s) created by user %s", run.pk, run.system, user.pk)
    return run


def run_spec(run: BacktestRun) -> BacktestSpec:
    """The spec of a stored run (its parameters were validated when it was created)."""
    return BacktestSpec(
        system=run.system,
        parameters={k: list(v) for k, v in run.parameters.items()},
        start=run.start,
        end=run.end,
        split=run.split_date,
        commission_bps=float(run.commission_bps),
        slippage_bps=float(run.slippage_bps),
        execution=run.execution,
        seed=run.seed,
    )


#: Backtest runs as long jobs: their owner follows them live; the data refusing the period fails as
#: ``insufficient_data``, a value the engine refuses as ``invalid_input`` (both with their message).
BACKTEST = JobType(
    model=BacktestRun,
    name=JOB_NAME,
    label="backtest",
    recipients=lambda run: [run.owner_id],
    error_codes=((DataError, "insufficient_data"), (ValueError, "invalid_input")),
)
#: Failures whose message is written for the run's owner; anything else is stored without its details.
USER_ERRORS: tuple[type[Exception], ...] = (DataError, ValidationFailed, ValueError)


def backtest_run(*, run_id: int, progress: Progress | None = None, task_id: str = "") -> BacktestRun | None:
    """Run queued backtest ``run_id`` and store its results (or its error). Returns the run, None if gone.

    ``progress(percent, stage)`` is also called for a caller's own display (the command's progress bar).
    ``task_id``: the delivering task's id; a run left running by a lost worker restarts only for its own task.
    Failures the user can act on (not enough data) and unexpected errors both end as ``failed`` with a code
    from the error's type (:data:`BACKTEST`) and, for the former, the message; nothing is raised, so the task
    never retries a deterministic failure.
    """
    run, started = job_start(job_type=BACKTEST, job_id=run_id, task_id=task_id)
    if run is None or not started:
        return run
    report = job_progress_reporter(job_type=BACKTEST, job=run, callback=progress)
    started_at = time.perf_counter()
    try:
        spec = run_spec(run)
        report(3, "loading prices")
        bars = selectors.backtest_bars(end=spec.end)  # every earlier session: warm-up and training history
        outcome = backtest_compute(spec=spec, bars=bars, progress=report)
    except USER_ERRORS as exc:
        logger.info("backtest #%s failed: %s", run.pk, exc)
        job_fail(job_type=BACKTEST, job=run, error=exc)
        return run
    except Exception as exc:  # stored on the run for its owner; the traceback goes to the log
        logger.exception("backtest #%s failed unexpectedly", run.pk)
        message = f"Internal error ({type(exc).__name__}); it was logged for the operators."
        job_fail(job_type=BACKTEST, job=run, error=exc, message=message)
        return run
    logger.info("backtest #%s computed in %.2f s", run.pk, time.perf_counter() - started_at)
    if progress is not None:
        progress(100, "done")
    fields = {"results": outcome.results, "equity_curve": outcome.curve, "data_hash": outcome.data_hash}
    job_succeed(job_type=BACKTEST, job=run, fields=fields)
    return run


def backtest_evaluate(*, spec: BacktestSpec, progress: Progress | None = None, bars: Any = None) -> BacktestOutcome:
    """Compute a spec without storing a run (the command's dry mode): stored prices unless ``bars`` are given.

    Raises :class:`RuleViolation` when the data cannot support it.
    """
    if bars is None:
        bars = selectors.backtest_bars(end=spec.end)
    try:
        return backtest_compute(spec=spec, bars=bars, progress=progress)
    except DataError as exc:
        raise RuleViolation(str(exc), fields={"period": [str(exc)]}) from None
