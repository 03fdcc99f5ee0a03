"""Beat's own Celery app (:mod:`quantai.celery_beat`) sends what the workers' app would, and loads none of the project.

Beat used to run on the workers' app, which imports every task module and sets Django up (models, URL
configuration, services) before beat starts. Its own app has the same configuration and schedule but no tasks.
The messages must not change: the same task, arguments, options and queue for every schedule entry, and the
headers the worker reads.
The subprocess tests publish through the file-system broker of the embedded mode, so no Redis is needed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

#: Every schedule entry sent once, as beat's scheduler sends it, after the start-up ``celery beat`` runs first.
SEND_EVERY_ENTRY = """
import importlib, json, sys, time
from celery.beat import Scheduler

app = importlib.import_module(sys.argv[1]).app
app.loader.init_worker()  # what `celery beat` does before its scheduler starts (Beat.init_loader)
app.finalize()
scheduler = Scheduler(app)
sent = {}
with app.producer_or_acquire() as producer:
    for name, entry in sorted(scheduler.schedule.items()):
        sent[name] = time.time()
        result = scheduler.apply_async(entry, producer=producer, advance=False)
        sent[name] = {"id": result.id, "at": sent[name]}
print(json.dumps({"sent": sent, "modules": sorted(sys.modules), "tasks": sorted(app.tasks)}))
"""

#: ``celery <argv>`` in this process, stopped as beat starts its loop: writes the modules loaded by then to a file
#: (beat sends its standard output to the log).
START_BEAT = """
import json, os, sys
from celery.signals import beat_init

report, argv = sys.argv[1], json.loads(sys.argv[2])

@beat_init.connect
def _report(**kwargs):
    with open(report, "w") as out:
        json.dump(sorted(sys.modules), out)
    os._exit(0)

from celery.__main__ import main
sys.argv = ["celery", *argv]
main()
"""

#: Loaded by the workers' start-up, which beat does not need: task modules, Django's models and URLs, pandas.
WORKER_ONLY = (
    "market.tasks",
    "portfolios.tasks",
    "recommendations.tasks",
    "accounts.models",
    "portfolios.models",
    "django.db.models",
    "django.urls",
    "rest_framework",
    "pandas",
    "numpy",
)


def _embedded_env(tmp: Path) -> dict[str, str]:
    """The embedded mode's settings (file-system broker under ``tmp``): no Redis, no database touched by beat."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_URL", "DATABASE_URL"))}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "QUANTAI_EMBEDDED_WORKER": "1",
        "QUANTAI_VAR_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }


def _published(app_module: str, tmp: Path) -> dict[str, Any]:
    """Send every schedule entry with ``app_module``'s app; each message with its queue, keyed by entry name."""
    out = subprocess.run(
        [sys.executable, "-c", SEND_EVERY_ENTRY, app_module],
        cwd=ROOT,
        env=_embedded_env(tmp),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    by_id = {}
    for path in (tmp / "broker" / "queue").glob("*.msg"):
        queue = path.name.split(".", 1)[1].removesuffix(".msg")
        message = json.loads(path.read_text())
        by_id[message["headers"]["id"]] = (queue, message)
    messages = {name: _normalised(*by_id[sent["id"]], sent_at=sent["at"]) for name, sent in report["sent"].items()}
    return {"messages": messages, "modules": set(report["modules"]), "tasks": report["tasks"]}


def _normalised(queue: str, message: dict[str, Any], *, sent_at: float) -> dict[str, Any]:
    """The message without what differs between any two sends (ids, origin, reply address, the clock)."""
    headers = dict(message["headers"])
    for key in ("id", "root_id", "origin"):
        headers.pop(key)
    expires = headers.pop("expires")
    if expires is not None:
        moment = datetime.fromisoformat(expires)
        headers["expires"] = {"in_s": round(moment.timestamp() - sent_at), "utcoffset": str(moment.utcoffset())}
    properties = dict(message["properties"])
    for key in ("correlation_id", "reply_to", "delivery_tag"):
        properties.pop(key)
    body = json.loads(base64.b64decode(message["body"]))
    return {
        "queue": queue,
        "headers": headers,
        "properties": properties,
        "body": body,
        "content-type": message["content-type"],
        "content-encoding": message["content-encoding"],
    }


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        module: _published(module, tmp_path_factory.mktemp(module.replace(".", "-")))
        for module in ("quantai.celery", "quantai.celery_beat")
    }


def test_beat_has_the_workers_configuration_and_schedule():
    from celery.app.defaults import DEFAULTS

    from quantai.celery import app as workers
    from quantai.celery_beat import app as beat

    # Celery gives each configured queue its default exchange the first time an app routes a task (it edits the
    # Queue objects in place), so after another test sent a task the workers' queues differed from beat's unused
    # ones: both apps route once here, so each side's queues are compared as Celery uses them.
    for app in (workers, beat):
        app.amqp.queues  # noqa: B018
    differing = [key for key in DEFAULTS if beat.conf[key] != workers.conf[key]]
    assert differing == []
    assert beat.conf.beat_schedule == workers.conf.beat_schedule and beat.conf.task_routes == workers.conf.task_routes


@pytest.mark.slow
@pytest.mark.django_db
def test_beat_sends_every_scheduled_message_as_the_workers_app_did(sent):
    """Identical but for two headers a registered task fills from its own attributes; beat leaves them empty and
    the worker then takes the very same attributes (``time_limit or task.time_limit``; ``ignore_result`` None)."""
    from quantai.celery import app as workers_app

    workers_app.loader.import_default_modules()
    workers, beat = sent["quantai.celery"]["messages"], sent["quantai.celery_beat"]["messages"]

    assert sorted(beat) == sorted(workers)
    for name in workers:
        task = workers_app.tasks[workers[name]["headers"]["task"]]
        filled = {key: workers[name]["headers"].pop(key) for key in ("timelimit", "ignore_result")}
        left = {key: beat[name]["headers"].pop(key) for key in ("timelimit", "ignore_result")}
        assert filled == {"timelimit": [task.time_limit, task.soft_time_limit], "ignore_result": task.ignore_result}
        assert left == {"timelimit": [None, None], "ignore_result": None}, name
        assert beat[name] == workers[name], name
    # The routes hold without the task modules: the ML jobs go to the ml queue, everything else to default.
    ml = {"learning-train-models", "recommendations-generate", "recommendations-learn-personalisation"}
    assert {name for name, message in beat.items() if message["queue"] == "ml"} == ml
    assert {message["queue"] for name, message in beat.items() if name not in ml} == {"default"}


@pytest.mark.slow
def test_the_probe_sees_the_task_modules_the_workers_app_loads(sent):
    """The control: the same probe, run on the workers' app, finds what beat's must not load."""
    assert {"market.tasks", "portfolios.tasks", "django.db.models", "django.urls"} <= sent["quantai.celery"]["modules"]
    assert not set(WORKER_ONLY) & sent["quantai.celery_beat"]["modules"]
    shared = ("celery.", "quantai.ping")  # Celery's built-ins, and the ping every app gets from the workers' one
    assert [name for name in sent["quantai.celery_beat"]["tasks"] if not name.startswith(shared)] == []
    assert "market.tasks.refresh_prices" in sent["quantai.celery"]["tasks"]


@pytest.mark.slow
def test_beat_started_as_compose_starts_it_loads_no_task_module_no_model_and_no_pandas(tmp_path: Path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    argv = list(compose["services"]["beat"]["command"])
    assert argv[0] == "celery"
    schedule = argv.index("--schedule") + 1
    argv[schedule] = str(tmp_path / "celerybeat-schedule")

    report = tmp_path / "modules.json"
    out = subprocess.run(
        [sys.executable, "-c", START_BEAT, str(report), json.dumps(argv[1:])],
        cwd=ROOT,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert out.returncode == 0 and report.exists(), out.stderr[-3000:]
    modules = set(json.loads(report.read_text()))
    assert "celery.beat" in modules
    assert not set(WORKER_ONLY) & modules, sorted(set(WORKER_ONLY) & modules)
