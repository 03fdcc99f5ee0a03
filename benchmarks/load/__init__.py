"""Benchmark section ``load``: the production-like stack under a realistic request mix.

Importing this package registers the section (:mod:`benchmarks.load.section`). Modules:
``mix`` (the mix, the load generator's data file, per-endpoint figures; pure), ``seed`` (the
seeding subprocess), ``infra`` (its own MariaDB database and Redis db), ``stack`` (uvicorn, Celery
worker and beat), ``wrk`` (running wrk with ``mix.lua``), ``figures``, and the benchmark-only
``settings`` and ``urls`` of the server.
"""

from benchmarks.load import section

__all__ = ["section"]
