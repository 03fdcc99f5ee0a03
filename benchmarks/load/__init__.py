"""Benchmark section ``load``: the production-like stack under a realistic request mix.

:mod:`benchmarks.sections` registers the section by importing :mod:`benchmarks.load.section`; this package
imports nothing itself, so the stack's web workers, which read :mod:`benchmarks.load.settings`, load only what a
production worker loads (not the benchmark harness, psutil and the rest). Modules:
``mix`` (the mix, the load generator's data file, per-endpoint figures; pure), ``seed`` (the
seeding subprocess), ``infra`` (its own MariaDB database and Redis db), ``stack`` (uvicorn, Celery
worker and beat), ``wrk`` (running wrk with ``mix.lua``), ``figures``, and the benchmark-only
``settings`` and ``urls`` of the server.
"""
