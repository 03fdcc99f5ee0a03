"""The registry of benchmark sections.

A section is a function that takes a :class:`BenchmarkContext` and returns a
:class:`SectionResult`: named figures, each with a unit, plus free-text notes. Sections are
registered with :func:`register` in the modules of :mod:`benchmarks.sections`, which :func:`discover`
imports. Benchmarks measure and print; they never pass or fail on a figure.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings

FigureValue = float | int | str | list[str]


class Figure(TypedDict):
    value: FigureValue
    unit: str


class SectionSkipped(Exception):
    """Raised by a section that cannot run here (missing data, missing service); the reason is printed."""


@dataclass
class SectionResult:
    """What a section measured: ``figures`` by name (insertion order is print order) and ``notes``."""

    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: FigureValue, unit: str) -> None:
        """Record one figure; a float is kept as measured and rounded only when printed."""
        self.figures[name] = {"value": value, "unit": unit}

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class BenchmarkContext:
    """What a section may use: the command's options, a progress writer and the repository root."""

    options: Mapping[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = lambda message: None
    repo_root: Path = field(default_factory=lambda: Path(settings.BASE_DIR))

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value


SectionFunc = Callable[[BenchmarkContext], SectionResult]
ArgumentsHook = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Section:
    name: str
    description: str
    func: SectionFunc
    add_arguments: ArgumentsHook | None = None


_SECTIONS: dict[str, Section] = {}


def register(name: str, *, description: str, add_arguments: ArgumentsHook | None = None) -> Callable[[SectionFunc], SectionFunc]:
    """Decorator adding a section under ``name``.

    ``add_arguments`` may add section-specific options to the ``benchmark`` command's parser;
    they reach the section through ``context.options``.
    """

    def decorator(func: SectionFunc) -> SectionFunc:
        existing = _SECTIONS.get(name)
        # Re-registering the same function (a module imported twice) is harmless; two sections
        # under one name are a mistake that would silently hide one of them.
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"benchmark section {name!r} is already registered by {existing.func.__module__}")
        _SECTIONS[name] = Section(name=name, description=description, func=func, add_arguments=add_arguments)
        return func

    return decorator


def unregister(name: str) -> None:
    """Remove a section (tests that register throwaway sections clean up with this)."""
    _SECTIONS.pop(name, None)


def discover() -> None:
    """Import every section module (they register on import)."""
    import benchmarks.sections  # noqa: F401 - registers on import


def all_sections() -> dict[str, Section]:
    """Registered sections by name, in registration order."""
    return dict(_SECTIONS)
