"""The measuring harness behind ``python manage.py benchmark``.

Sections register with :func:`register`; shared helpers for subprocesses, a live ASGI server and
load generation live in :mod:`quantai.benchmarks.support` and :mod:`quantai.benchmarks.loadtest`.
A section elsewhere looks like::

    # portfolios/benchmarks.py
    from quantai.benchmarks import BenchmarkContext, SectionResult, register

    @register("portfolio", description="valuation of a 5-position portfolio")
    def portfolio(context: BenchmarkContext) -> SectionResult:
        result = SectionResult()
        result.add("valuations_per_s", 1234.0, "valuations/s")
        return result
"""

from quantai.benchmarks.registry import BenchmarkContext, Figure, SectionResult, SectionSkipped, register

__all__ = ["BenchmarkContext", "Figure", "SectionResult", "SectionSkipped", "register"]
