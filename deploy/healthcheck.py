"""Container health checks used by docker-compose.yml; exit status 0 means healthy.

    python deploy/healthcheck.py web    # GET /healthz on this container's uvicorn, as nginx sends it
    python deploy/healthcheck.py beat   # the broker beat publishes to answers and beat has a schedule file

The Celery workers use ``celery inspect ping`` instead. Nothing here imports Django, so a check
costs milliseconds rather than a settings import.
"""

from __future__ import annotations

import http.client
import os
import sys
from pathlib import Path

DEFAULT_BEAT_SCHEDULE = "/app/var/beat/celerybeat-schedule"


def _public_host() -> str:
    """A host name Django accepts: the first concrete entry of ALLOWED_HOSTS."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


def check_web() -> int:
    port = int(os.environ.get("PORT", "8000"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        # As nginx forwards it: an allowed Host and the TLS nginx terminated; without the latter
        # production settings would answer with a redirect to https.
        headers = {"Host": _public_host(), "X-Forwarded-Proto": "https"}
        if os.environ.get("HEALTHZ_TOKEN"):
            # With the token a failing check prints which part is down and why; without it, the status.
            headers["Authorization"] = f"Bearer {os.environ['HEALTHZ_TOKEN']}"
        connection.request("GET", "/healthz", headers=headers)
        response = connection.getresponse()
        body = response.read(500)
    except OSError as exc:
        print(f"web: no answer on port {port}: {exc}")
        return 1
    finally:
        connection.close()
    if response.status != 200:
        print(f"web: /healthz answered {response.status}: {body.decode(errors='replace')}")
        return 1
    return 0


def check_beat() -> int:
    from kombu import Connection
    from kombu.exceptions import OperationalError

    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if not url:
        print("beat: neither CELERY_BROKER_URL nor REDIS_URL is set")
        return 1
    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except (OSError, OperationalError) as exc:
        print(f"beat: broker not answering: {exc}")
        return 1
    schedule = Path(os.environ.get("BEAT_SCHEDULE", DEFAULT_BEAT_SCHEDULE))
    # The shelve backend may add a suffix (.db, .dat) to the name it was given.
    if not any(schedule.parent.glob(schedule.name + "*")):
        print(f"beat: no schedule file at {schedule}")
        return 1
    return 0


CHECKS = {"web": check_web, "beat": check_beat}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(f"usage: {argv[0]} {{{','.join(CHECKS)}}}")
        return 2
    return CHECKS[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
