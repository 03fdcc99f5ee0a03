"""A user's data export ("download my data"): one JSON document or a zip of CSV files.

The contents come from every app's ``personal_data`` module (:mod:`quantai.personal_data`), so this
module imports no other app. Both formats are written row by row to a binary file object, so memory
stays bounded however long the user's history is; the page and ``export_user_data`` write the same bytes.

JSON::

    {"format": "quantai.personal-data", "format_version": 1, "exported_at": "...", "username": "...",
     "sections": {"accounts": {"profile": [{...}], ...}, "portfolios": {"trades": [...], ...}, ...}}

CSV: a zip with ``manifest.json`` (the same header plus the row count of every table) and one
``<app>/<table>.csv`` per table, header row first. Money and shares are written as exact decimal
strings, times in ISO 8601 UTC, JSON columns as JSON text, empty cells for NULL.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any, Literal

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts.models import User
from quantai.personal_data import Table, export_sections

ExportFormat = Literal["json", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("json", "csv")
FORMAT_NAME = "quantai.personal-data"
FORMAT_VERSION = 1
CONTENT_TYPES: dict[str, str] = {"json": "application/json", "csv": "application/zip"}
EXTENSIONS: dict[str, str] = {"json": "json", "csv": "zip"}

_ENCODER = DjangoJSONEncoder(ensure_ascii=False)


def export_filename(user: User, fmt: ExportFormat, *, now: datetime | None = None) -> str:
    """``quantai-data-<username>-<UTC timestamp>.<json|zip>``, with anything unsafe in a file name replaced."""
    stamp = (now or timezone.now()).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", user.get_username()) or "user"
    return f"quantai-data-{safe}-{stamp}.{EXTENSIONS[fmt]}"


def _header(user: User, now: datetime) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "exported_at": now, "username": user.get_username()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return _ENCODER.encode(value)
    encoded = _ENCODER.encode(value)
    # Decimals, dates and times encode as JSON strings; numbers as themselves.
    return json.loads(encoded) if encoded.startswith('"') else encoded


def _write_json(out: IO[bytes], user: User, sections: Mapping[str, Mapping[str, Table]], now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    head = _ENCODER.encode(_header(user, now))
    out.write((head[:-1] + ', "sections": {').encode())
    for i, (app, tables) in enumerate(sections.items()):
        out.write(f"{', ' if i else ''}{_ENCODER.encode(app)}: {{".encode())
        for j, (name, table) in enumerate(tables.items()):
            out.write(f"{', ' if j else ''}{_ENCODER.encode(name)}: [".encode())
            n = 0
            for row in table.rows:
                out.write(((",\n" if n else "\n") + _ENCODER.encode({c: row.get(c) for c in table.columns})).encode())
                n += 1
            out.write(b"]")
            counts[f"{app}/{name}"] = n
        out.write(b"}")
    out.write(b"}}\n")
    return counts


def _write_csv_zip(out: IO[bytes], user: User, sections: Mapping[str, Mapping[str, Table]], now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for app, tables in sections.items():
            for name, table in tables.items():
                with archive.open(f"{app}/{name}.csv", "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
                    writer = csv.writer(text)
                    writer.writerow(table.columns)
                    n = 0
                    for row in table.rows:
                        writer.writerow([_cell(row.get(c)) for c in table.columns])
                        n += 1
                counts[f"{app}/{name}"] = n
        manifest = {**_header(user, now), "tables": counts}
        archive.writestr("manifest.json", json.dumps(manifest, cls=DjangoJSONEncoder, indent=2) + "\n")
    return counts


def personal_data_write(*, user: User, fmt: ExportFormat, out: IO[bytes], now: datetime | None = None) -> dict[str, int]:
    """Write ``user``'s data to ``out`` in ``fmt`` ("json" or "csv"); returns the row count per ``app/table``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    now = now or timezone.now()
    sections = export_sections(user)
    if fmt == "json":
        return _write_json(out, user, sections, now)
    return _write_csv_zip(out, user, sections, now)
