"""Shared argument parsing of the recommendations commands."""

from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD") from None
