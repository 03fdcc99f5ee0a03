"""The registry of personal data: what each app exports for a user and how it erases that user.

Each app that stores data about a person contributes a ``<app>/personal_data.py`` module, which
:func:`discover` imports (Django's ``autodiscover_modules``, as the admin finds ``admin.py``), so ``accounts``
can export and erase a user without importing the apps that depend on it::

    # portfolios/personal_data.py
    from quantai.personal_data import Table, register, table_from

    def export(user):
        return {"trades": table_from(Trade.objects.filter(user=user))}

    def erase(*, user, placeholder):
        ...  # delete or detach the user's rows, inside the caller's transaction
        return {"trades_deleted": 3}

    register("portfolios", export=export, erase=erase)

Exports are read in ``INSTALLED_APPS`` order; erase steps run in the *reverse* order (the apps that
depend on others first, ``accounts`` last), all inside one transaction opened by the caller.

An erase step gets the user being deleted and a ``placeholder``: a fresh, inactive user with a random
name created for this one deletion. Data the learning system aggregates (recommendations and the
answers to them) is moved onto the placeholder and scrubbed of free text, so statistics and the
acceptance model still count it while nothing ties it to the person any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Table:
    """One exported table: its column names and its rows (mappings column -> value; may be lazy)."""

    columns: Sequence[str]
    rows: Iterable[Row]


ExportFunc = Callable[[Any], Mapping[str, Table]]
EraseFunc = Callable[..., Mapping[str, int]]


@dataclass(frozen=True)
class Provider:
    name: str
    export: ExportFunc | None
    erase: EraseFunc | None


_PROVIDERS: dict[str, Provider] = {}


def register(name: str, *, export: ExportFunc | None = None, erase: EraseFunc | None = None) -> None:
    """Add the personal-data provider of app ``name`` (an app label). Registering the same functions twice is harmless."""
    existing = _PROVIDERS.get(name)
    if existing is not None and (
        _qualname(existing.export) != _qualname(export) or _qualname(existing.erase) != _qualname(erase)
    ):
        raise ValueError(f"personal-data provider {name!r} is already registered by another module")
    _PROVIDERS[name] = Provider(name=name, export=export, erase=erase)


def _qualname(func: Callable[..., Any] | None) -> str | None:
    return None if func is None else f"{func.__module__}.{func.__qualname__}"


def unregister(name: str) -> None:
    """Remove a provider (tests that register throwaway providers clean up with this)."""
    _PROVIDERS.pop(name, None)


def discover() -> None:
    """Import every installed app's ``personal_data`` module, if it has one."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("personal_data")


def _app_rank(name: str) -> tuple[int, str]:
    labels = [config.label for config in apps.get_app_configs()]
    return (labels.index(name) if name in labels else len(labels), name)


def providers() -> list[Provider]:
    """Every provider (after :func:`discover`), in ``INSTALLED_APPS`` order: the export order."""
    discover()
    return sorted(_PROVIDERS.values(), key=lambda p: _app_rank(p.name))


def erase_order() -> list[Provider]:
    """Providers with an erase step, dependants first (reverse ``INSTALLED_APPS`` order)."""
    return [p for p in reversed(providers()) if p.erase is not None]


def export_sections(user: Any) -> dict[str, Mapping[str, Table]]:
    """``{app: {table: Table}}`` for ``user``; rows stay lazy until a writer iterates them."""
    return {p.name: p.export(user) for p in providers() if p.export is not None}


def model_columns(model: type[models.Model], *, exclude: Iterable[str] = ()) -> list[str]:
    """The concrete columns of ``model`` by attribute name (``user_id``, not ``user``), minus ``exclude``."""
    skip = set(exclude)
    return [f.attname for f in model._meta.concrete_fields if f.attname not in skip and f.name not in skip]


def table_from(queryset: models.QuerySet[Any], *, exclude: Iterable[str] = ()) -> Table:
    """A table of every concrete column of ``queryset``'s model except ``exclude``, read lazily in chunks."""
    columns = model_columns(queryset.model, exclude=exclude)
    return Table(columns=columns, rows=queryset.order_by("pk").values(*columns).iterator(chunk_size=1000))
