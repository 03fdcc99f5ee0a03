"""The built-in benchmark sections; importing this package registers them.

Apps add their own sections in ``<app>/benchmarks.py`` (see :mod:`quantai.benchmarks.registry`).
"""

from quantai.benchmarks import load
from quantai.benchmarks.sections import api_health, load_prices, memory

__all__ = ["api_health", "load", "load_prices", "memory"]
