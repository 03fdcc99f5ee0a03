"""Training the models from stored bars, the promotion gate, and registering the result.

:func:`models_train` is what the nightly task, ``POST /api/learning/train`` and ``manage.py train_models``
run. In order, with the database touched only in short transactions between the long steps:

1. start the run (one at a time, see :mod:`learning.services.runs`);
2. read the bars up to ``until`` and hash them together with the feature list and the training settings.
   Unchanged hash since the latest ensemble version: the run is *skipped* (deterministic training would
   only reproduce that version);
3. walk-forward evidence and the production ensemble (:func:`learning.ml.pipeline.train_candidate`);
4. store each artifact (base models and the ensemble) atomically with its sha256;
5. the promotion gate, per kind. First the edge rule (:mod:`learning.ml.pipeline`): a candidate with no
   edge on the evaluation folds (near-constant probabilities, or AUC at most ``LEARNING_MIN_AUC``) is never
   promoted, not even as the first version of its kind; the run then ends "no edge found" with the figures
   (``result["edge"]``), and with no active ensemble the engine runs on its risk-only policy. Then, on the
   most recent walk-forward fold: the candidate becomes active only if its log loss is at least as good as
   the active version's on that fold and its AUC is not worse by more than ``LEARNING_AUC_MARGIN`` (see
   :mod:`learning.ml.pipeline` for how the active version is scored fairly). Otherwise it stays a
   candidate and the reason is stored on the version and the run;
6. register the versions (one transaction) and finish the run.

Prices are ``Decimal`` in the database; they become floats only when the panel is built for the numerical
core. Any failure marks the run failed (with the error, and its code from its type: :class:`NoPriceBars`,
:class:`NotEnoughHistory`, else :func:`quantai.jobs.error_code_of`'s) and is re-raised to the caller.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from learning import registry, selectors
from learning.models import ModelVersion, RunTrigger, TrainingRun
from learning.services import runs
from learning.services.config import auc_margin, keep_versions, trainable_kinds_record, training_config
from learning.services.versions import NewVersion, artifacts_prune, versions_register
from quantai.jobs import JobError

logger = logging.getLogger(__name__)

ENSEMBLE = "ensemble"


class NoPriceBars(JobError, ValueError):
    """No price bar is stored up to the run's day: there is nothing to train on."""

    code = "no_price_bars"


class NotEnoughHistory(JobError, ValueError):
    """The stored bars are too short for the walk-forward evaluation and the ensemble's inner walk-forward (the
    numerical core's :class:`~learning.ml.models.base.InsufficientHistory`); the message says what is needed."""

    code = "insufficient_history"


def bars_digest(rows: Sequence[tuple[Any, ...]]) -> str:
    """sha256 of bar rows (symbol, date, prices as Decimal, volume) in their text form, in the given order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("|".join(str(v) for v in row) + "\n").encode())
    return digest.hexdigest()


def data_hash_of(rows: Sequence[tuple[Any, ...]], config: Any) -> str:
    """The data hash: the bars used, the feature list and every training setting (see ``TrainingConfig.fingerprint``)."""
    from learning.ml.pipeline import canonical_json

    digest = hashlib.sha256()
    digest.update(bars_digest(rows).encode())
    digest.update(canonical_json(config.fingerprint()).encode())
    return digest.hexdigest()


def _panel(rows: Sequence[tuple[Any, ...]]) -> Any:
    import pandas as pd

    from learning.ml.data import panel_from_long

    return panel_from_long(pd.DataFrame(rows, columns=list(selectors.BAR_COLUMNS)))


def _artifacts_healthy(kinds: list[str]) -> bool:
    """Whether every active version of ``kinds`` still verifies. One that does not is "no model": a run must
    not skip then, since retraining is how it gets replaced."""
    return all(registry.artifact_verify(v) for kind in kinds if (v := selectors.active_version(kind=kind)) is not None)


def _same_recipe(version: ModelVersion, candidate: Any, kind: str) -> bool:
    import json

    from learning.ml.pipeline import canonical_json

    def norm(value: Any) -> str:
        return canonical_json(json.loads(json.dumps(value, default=str)))

    return norm(version.hyperparameters) == norm(candidate.config.hyperparameters(kind)) and list(version.features) == list(
        candidate.config.features
    )


def _gate(kind: str, candidate: Any) -> tuple[bool, str, dict[str, Any]]:
    """The promotion decision for ``kind``, its reason, and what it compared (for the version's metrics)."""
    from learning.ml.pipeline import promotion_decision

    fold = candidate.gate_result["fold"]
    mine = candidate.gate_result["models"][kind]
    edge = candidate.edge(kind)
    active = selectors.active_version(kind=kind)
    if not edge["found"] or active is None:
        # The edge rule comes first: a model without one is refused even when nothing is active.
        decision = promotion_decision(mine, None, fold=fold, edge=edge)
        return decision.promote, decision.reason, {"compared_with": active.pk if active is not None else None}
    if not registry.artifact_verify(active):
        return True, f"the active {active.label} failed its artifact check", {"compared_with": active.pk, "basis": "unverified"}
    stored_fold = (active.metrics or {}).get("fold") or {}
    if stored_fold.get("key") == candidate.fold_key and (active.metrics or {}).get("gate"):
        theirs, basis = active.metrics["gate"], "stored metrics on the same fold"
    elif _same_recipe(active, candidate, kind):
        theirs, basis = mine, "same hyperparameters and features (deterministic: same fold metrics)"
    else:
        from learning.ml.pipeline import score_recipe

        theirs = score_recipe(candidate, kind=kind, hyperparameters=active.hyperparameters, features=active.features)
        basis = f"{active.label}'s hyperparameters refitted on fold {fold}'s training rows"
        if theirs is None:
            return (
                True,
                f"the active {active.label} uses features this installation no longer computes",
                {"compared_with": active.pk},
            )
    decision = promotion_decision(mine, theirs, fold=fold, auc_margin=auc_margin(), edge=edge)
    reason = f"{decision.reason} (vs {active.label}: {basis})"
    return decision.promote, reason, {"compared_with": active.pk, "basis": basis, "active_metrics": theirs}


def models_train(
    *,
    until: date | None = None,
    kinds: list[str] | None = None,
    triggered_by: Any = None,
    progress: Callable[[int, str], None] | None = None,
    run_id: int | None = None,
    trigger: str | None = None,
    task_id: str = "",
) -> TrainingRun:
    """Train candidates from the stored bars, gate them against the active versions, register them.

    With ``run_id`` the queued run of that id is executed (its ``kinds`` and ``until`` apply); otherwise a
    run is created (``trigger`` defaults to ``command``, or ``user`` with ``triggered_by``). ``kinds``: base
    models of the ensemble (default ``LEARNING_MODELS``). ``progress(percent, stage)`` is called as the
    run advances. Returns the finished run: succeeded, skipped (unchanged data, or another run in progress)
    or failed. Raises what made it fail, after recording it on the run.
    """
    try:
        trainable_kinds_record()  # the Learning page (in the web process, without ML libraries) reads it
    except Exception:  # a cache outage must not stop a training run
        logger.warning("could not record the trainable model kinds", exc_info=True)
    if run_id is None:
        chosen_trigger = trigger or (RunTrigger.USER if triggered_by is not None else RunTrigger.COMMAND)
        created = runs.training_run_create(
            trigger=chosen_trigger, kinds=kinds, until=until, triggered_by=triggered_by, task_id=task_id
        )
        run_id = created.pk
    run, started = runs.training_run_start(run_id=run_id, task_id=task_id)
    if not started:
        return run
    report = runs.progress_reporter(run, progress)
    try:
        return _train(run, report)
    except BaseException as exc:
        # Anything (a time limit included) ends the run as failed before it propagates.
        logger.error("training run #%s failed: %s: %s\n%s", run.pk, type(exc).__name__, exc, traceback.format_exc())
        runs.training_run_fail(run=run, error=exc)
        raise


def _train(run: TrainingRun, report: Callable[[int, str], None]) -> TrainingRun:
    from learning.ml.models.base import FORMAT_VERSION, InsufficientHistory, library_versions
    from learning.ml.pipeline import train_candidate

    config = training_config(kinds=run.kinds or None)
    report(2, "reading bars")
    rows = selectors.training_bars(until=run.until)
    if not rows:
        raise NoPriceBars("no price bars stored: load prices first (manage.py load_prices)")
    data_hash = data_hash_of(rows, config)
    latest = selectors.latest_version(kind=ENSEMBLE)
    if latest is not None and latest.data_hash == data_hash and _artifacts_healthy([*config.kinds, ENSEMBLE]):
        reason = f"bars, features and settings are unchanged since {latest.label} (data hash {data_hash[:12]})"
        logger.info("training run #%s skipped: %s", run.pk, reason)
        runs.training_run_skip(run=run, reason=reason, data_hash=data_hash)
        return run
    try:
        candidate = train_candidate(_panel(rows), config, progress=report)
    except InsufficientHistory as exc:
        first, last = min(r[1] for r in rows), max(r[1] for r in rows)
        years = (last - first).days / 365.25
        raise NotEnoughHistory(
            f"{exc}: the stored bars cover {first}..{last} ({years:.1f} years); with LEARNING_INNER_YEARS="
            f"{config.inner_years} training needs about {config.inner_years + 3} years (indicator warm-up, the inner "
            "walk-forward years and one evaluation year). Load more history, e.g. manage.py load_prices --source demo "
            "--start 2016-01-01"
        ) from exc

    report(95, "storing artifacts and applying the promotion gate")
    versions: list[NewVersion] = []
    edge = candidate.edge(ENSEMBLE)
    result: dict[str, Any] = {
        "versions": {},
        "fold": candidate.gate_result["fold"],
        "data_hash": data_hash,
        # The ensemble's edge on the evaluation folds, so pages can say "no edge found" with the figures.
        "edge": {**edge, "skill": candidate.skill(ENSEMBLE)["overall"]},
    }
    libraries = library_versions("scikit-learn", "xgboost", "torch", "stable-baselines3", "gymnasium")
    # A fresh suffix per attempt: a run restarted after a lost worker never collides with its own earlier files.
    attempt = uuid.uuid4().hex[:8]
    for kind in candidate.kinds:
        artifact = registry.artifact_store(candidate.model(kind), kind=kind, name=f"run{run.pk}-{data_hash[:12]}-{attempt}")
        promote, reason, gate = _gate(kind, candidate)
        metrics = candidate.metrics_for(kind)
        metrics["promotion"] = {"promoted": promote, "reason": reason, **gate}
        versions.append(
            NewVersion(
                kind=kind,
                artifact=artifact,
                train_start=candidate.train_start.date(),
                train_end=candidate.train_end.date(),
                data_hash=data_hash,
                features=list(config.features),
                hyperparameters=config.hyperparameters(kind),
                library_versions=libraries,
                metrics=_plain(metrics),
                format_version=FORMAT_VERSION,
                promote=promote,
                reason=reason,
            )
        )
    created = versions_register(run=run, versions=versions)
    for version, new in zip(created, versions, strict=True):
        result["versions"][version.kind] = {
            "id": version.pk,
            "version": version.version,
            "promoted": new.promote,
            "reason": new.reason,
        }
        logger.info("training run #%s: %s %s (%s)", run.pk, version.label, "active" if new.promote else "candidate", new.reason)
    result["pruned"] = artifacts_prune(keep=keep_versions())
    runs.training_run_succeed(run=run, result=result, data_hash=data_hash)
    return run


def _plain(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
