"""Market-data providers behind one interface, :class:`PriceProvider`.

``get_provider(name, **options)`` builds one:

======================  ==========================================================  =========================
name                    options                                                     needs
======================  ==========================================================  =========================
``csv``                 ``path`` (directory of ``SYMBOL.csv``)                      a directory
``yfinance``            ``timeout``                                                 internet at run time
``alphavantage``        ``api_key``, ``function``, ``timeout``, ``session``         an API key + internet
``finazon``             ``api_key``, ``dataset``, ``timeout``, ``session``          an API key + internet
``demo``                ``seed``, ``today``, ``history_years``                      nothing
======================  ==========================================================  =========================

Every provider's ``fetch(symbol, start, end)`` returns validated bars in the same shape (see
:mod:`market.providers.base`) or raises a :class:`ProviderError`. This package imports no Django;
the service layer passes settings values in.
"""

from __future__ import annotations

import inspect
from typing import Any

from market.providers.base import (
    PRICE_COLUMNS,
    NoDataError,
    PriceDataError,
    PriceProvider,
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailable,
)

PROVIDER_NAMES: tuple[str, ...] = ("csv", "yfinance", "alphavantage", "finazon", "demo")

__all__ = [
    "PRICE_COLUMNS",
    "PROVIDER_NAMES",
    "NoDataError",
    "PriceDataError",
    "PriceProvider",
    "ProviderConfigError",
    "ProviderError",
    "ProviderResponseError",
    "ProviderUnavailable",
    "get_provider",
]


def _build(name: str, cls: type, *args: Any, **options: Any) -> Any:
    try:
        inspect.signature(cls).bind(*args, **options)
    except TypeError as exc:
        raise ProviderConfigError(f"bad options for the {name} provider: {exc}") from None
    return cls(*args, **options)


def get_provider(name: str, **options: Any) -> PriceProvider:
    """The provider called ``name``, built with ``options``; :class:`ProviderConfigError` if it cannot be."""
    if name == "csv":
        from market.providers.csv_dir import CsvDirectoryProvider

        return _build(name, CsvDirectoryProvider, options.pop("path", None) or "", **options)
    if name == "yfinance":
        from market.providers.yahoo import YFinanceProvider

        return _build(name, YFinanceProvider, **options)
    if name == "alphavantage":
        from market.providers.alphavantage import AlphaVantageProvider

        return _build(name, AlphaVantageProvider, options.pop("api_key", None) or "", **options)
    if name == "finazon":
        from market.providers.finazon import FinazonProvider

        return _build(name, FinazonProvider, options.pop("api_key", None) or "", **options)
    if name == "demo":
        from market.providers.demo import DemoMarketProvider

        return _build(name, DemoMarketProvider, **options)
    raise ProviderConfigError(f"unknown price provider {name!r}; choose one of {', '.join(PROVIDER_NAMES)}")
