"""The load stack starts the Celery worker and beat as ``docker-compose.yml`` does, so its memory figures are production's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from benchmarks.load.stack import Stack

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _with_defaults(value: Any) -> str:
    """``${NAME:-default}`` as compose starts it when .env leaves NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def _service(name: str) -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]


def _without(command: list[str], *options: str) -> list[str]:
    """``command`` without each of ``options`` and its value (what differs by machine: node name, file paths)."""
    kept, skip = [], False
    for token in command:
        if skip:
            skip = False
        elif token in options:
            skip = True
        else:
            kept.append(token)
    return kept


def test_the_stack_starts_the_default_worker_with_composes_command_and_environment(tmp_path):
    stack = Stack({}, tmp_path)
    service = _service("worker")
    compose_command = [_with_defaults(token) for token in service["command"]]

    assert _without(stack.worker_command(), "-n") == _without(compose_command, "-n")
    assert stack.worker_env().items() <= {k: str(v) for k, v in service["environment"].items()}.items()


def test_the_stack_starts_beat_with_composes_command(tmp_path):
    stack = Stack({}, tmp_path)

    assert _without(stack.beat_command(), "--schedule", "--pidfile") == _without(_service("beat")["command"], "--schedule")
