"""The universe: five stocks users trade, and SPY as the benchmark."""

from django.db import models


class Symbol(models.TextChoices):
    AAPL = "AAPL", "Apple Inc."
    AMZN = "AMZN", "Amazon.com, Inc."
    GOOGL = "GOOGL", "Alphabet Inc. (Class A)"
    META = "META", "Meta Platforms, Inc."
    NVDA = "NVDA", "NVIDIA Corporation"
    SPY = "SPY", "SPDR S&P 500 ETF (benchmark)"


BENCHMARK = Symbol.SPY.value
#: What users can hold and get recommendations for.
TRADABLE: tuple[str, ...] = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
#: Everything the market app stores prices for.
ALL_SYMBOLS: tuple[str, ...] = (*TRADABLE, BENCHMARK)
