"""The measuring harness behind ``python manage.py benchmark``: a development tool, not part of the product.

It lives outside the product's packages (and outside the Docker image, see ``.dockerignore``) and uses only
their public names. The ``benchmark`` command comes from this package as a development-only app, which
``quantai.settings.local`` and ``quantai.settings.test`` install when the folder is there.

Sections register with :func:`register`; every section module is imported by :mod:`benchmarks.sections`.
Shared helpers for subprocesses, a live ASGI server and load generation live in :mod:`benchmarks.support`
and :mod:`benchmarks.loadtest`. A section looks like::

    # benchmarks/sections/portfolio.py
    from benchmarks import BenchmarkContext, SectionResult, register

    @register("portfolio", description="valuation of a 5-position portfolio")
    def portfolio(context: BenchmarkContext) -> SectionResult:
        result = SectionResult()
        result.add("valuations_per_s", 1234.0, "valuations/s")
        return result

and is added to the imports of :mod:`benchmarks.sections`.
"""

from benchmarks.registry import BenchmarkContext, Figure, SectionResult, SectionSkipped, register

__all__ = ["BenchmarkContext", "Figure", "SectionResult", "SectionSkipped", "register"]
