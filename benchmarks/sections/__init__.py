"""Every benchmark section; importing this package registers them (in this order, which is ``--list``'s).

A new section is a module here (or a package, like :mod:`benchmarks.load`) added to the imports below.
"""

from benchmarks.load import section as load
from benchmarks.sections import api_health, load_prices, memory

from benchmarks.sections import market, portfolio, learning, recommendations, backtest  # isort: skip - registration order

__all__ = ["api_health", "backtest", "learning", "load", "load_prices", "market", "memory", "portfolio", "recommendations"]
