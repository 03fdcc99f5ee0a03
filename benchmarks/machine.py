"""What a set of figures was measured on: interpreter, CPU, memory, platform, code version, time."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
import psutil
from django.conf import settings


def git_commit(repo: Path) -> dict[str, Any] | None:
    """HEAD's commit and whether the working tree has changes; None outside a git checkout or without git."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        head = subprocess.run(  # noqa: S603 - fixed read-only git commands
            [git, "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        status = subprocess.run(  # noqa: S603
            # --no-optional-locks: a benchmark must not even refresh the index.
            [git, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())}


def machine_info(repo: Path) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "django": django.get_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_total_mib": round(memory.total / 1024 / 1024),
        "database_engine": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "git": git_commit(repo),
    }
