"""The front end's own tests (``jstests/*.test.js``: the money arithmetic of static/js/money.js and the pure parts of
static/js/charts.js) run with Node's built-in test runner, no npm package. Without ``node`` they are skipped on a
developer's machine and fail on CI (``CI=true``), where Node is part of the machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JSTESTS = ROOT / "jstests"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        message = "node is not installed: the JavaScript tests in jstests/ (node --test) cannot run"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must have Node 20 or later", pytrace=False)
        pytest.skip(message)
    return node


def _run(node: str, files: list[Path]) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
    """Runs ``node --test`` on ``files`` (TAP output) and reads its closing counts (``# pass 27`` ...)."""
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_OPTIONS": "", "NO_COLOR": "1"},
    )
    counts = {key: int(value) for key, value in re.findall(r"^# (tests|pass|fail|cancelled|todo) (\d+)$", result.stdout, re.M)}
    return result, counts


def test_the_javascript_tests_pass() -> None:
    node = _node()
    files = sorted(JSTESTS.glob("*.test.js"))
    assert {f.name for f in files} >= {"money.test.js", "charts.test.js"}
    result, counts = _run(node, files)
    failures = "\n".join(line for line in result.stdout.splitlines() if line.startswith("not ok"))
    assert result.returncode == 0 and counts.get("fail") == 0, f"{failures}\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert counts.get("cancelled") == 0 and counts.get("todo") == 0
    # Every test() in the files ran: a file that stopped loading would leave its tests out of the count.
    declared = sum(len(re.findall(r"^test\(", f.read_text(), re.M)) for f in files)
    assert counts.get("pass") == counts.get("tests") == declared >= 25


def test_a_failing_javascript_test_fails_this_suite(tmp_path: Path) -> None:
    """The harness above notices a failure: a test that asserts something false makes node exit non-zero."""
    node = _node()
    broken = tmp_path / "broken.test.js"
    broken.write_text(
        'const test = require("node:test");\n'
        'const assert = require("node:assert/strict");\n'
        f"const money = require({str(ROOT / 'static' / 'js' / 'money.js')!r});\n"
        'test("wrong on purpose", () => { assert.equal(money.fixed("1.015"), "1.01"); });\n'
    )
    result, counts = _run(node, [broken])
    assert result.returncode != 0
    assert counts.get("fail") == 1 and counts.get("pass") == 0
    assert "not ok 1 - wrong on purpose" in result.stdout
