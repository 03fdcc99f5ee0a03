"""Plain-text rendering of benchmark results for the terminal."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.registry import Figure


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:,.1f}"
        if magnitude >= 0.1 or magnitude == 0:
            return f"{value:.2f}"
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) if value else "(none)"
    return str(value)


def section_table(name: str, entry: dict[str, Any]) -> list[str]:
    """Lines for one section: a heading, aligned ``name  value  unit`` rows, then notes."""
    heading = f"== {name}: {entry['description']}"
    if entry.get("seconds") is not None:
        heading += f"  [{entry['seconds']:.1f} s]"
    lines = [heading]
    status = entry["status"]
    if status == "skipped":
        lines.append(f"   SKIPPED: {entry['reason']}")
    elif status == "error":
        lines.append(f"   ERROR: {entry['error']}")
    figures: dict[str, Figure] = entry.get("figures") or {}
    if figures:
        name_width = max(len(key) for key in figures)
        values = {key: format_value(figure["value"]) for key, figure in figures.items()}
        value_width = max(len(text) for text in values.values())
        for key, figure in figures.items():
            lines.append(f"   {key:<{name_width}}  {values[key]:>{value_width}}  {figure['unit']}")
    for note in entry.get("notes") or []:
        lines.append(f"   - {note}")
    return lines
