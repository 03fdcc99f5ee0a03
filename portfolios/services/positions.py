"""A position's own settings: stop loss, take profit, notes, automatic exit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import User
from portfolios.core.ledger import (
    MAX_PRICE,
    exit_levels_problem,
)
from portfolios.models import Position
from portfolios.services._common import (
    fail,
    parse_decimal,
)
from quantai.errors import NotFound, RuleViolation, StateConflict

_UNSET: Any = object()


def position_update(
    *,
    user: User,
    position_id: int,
    stop_loss: Decimal | str | None = _UNSET,
    take_profit: Decimal | str | None = _UNSET,
    notes: str = _UNSET,
    auto_exit: bool = _UNSET,
) -> Position:
    """Change a position's stop loss, take profit, notes or automatic-exit flag (share counts change only through trades).

    Arguments left out keep their value; ``None`` clears a level. For a long the stop loss must be
    below the take profit, for a short above it (else ``RuleViolation``); levels on a closed position are a
    ``StateConflict``. Raises ``NotFound`` for another user's position.
    """
    changes: dict[str, Any] = {}
    if stop_loss is not _UNSET:
        changes["stop_loss"] = (
            None if stop_loss is None else parse_decimal(stop_loss, field="stop_loss", places=2, maximum=MAX_PRICE)
        )
    if take_profit is not _UNSET:
        changes["take_profit"] = (
            None if take_profit is None else parse_decimal(take_profit, field="take_profit", places=2, maximum=MAX_PRICE)
        )
    if notes is not _UNSET:
        if not isinstance(notes, str):
            raise fail("notes", "Notes must be text.")
        if len(notes) > 2000:
            raise fail("notes", "Notes must be at most 2000 characters.")
        changes["notes"] = notes
    if auto_exit is not _UNSET:
        if not isinstance(auto_exit, bool):
            raise fail("auto_exit", "Must be true or false.")
        changes["auto_exit"] = auto_exit

    with transaction.atomic():
        position = Position.objects.select_for_update().filter(user=user, pk=position_id).first()
        if position is None:
            raise NotFound("No such position.")
        for name, value in changes.items():
            setattr(position, name, value)
        if not position.is_open and any(changes.get(level) is not None for level in ("stop_loss", "take_profit")):
            message = "This position is closed; open it again before setting exit levels."
            raise StateConflict(message, fields={"non_field_errors": [message]}, code="position_closed")
        problem = exit_levels_problem(position.position_type, position.stop_loss, position.take_profit)
        if problem:
            raise RuleViolation(problem, fields={"stop_loss": [problem]}, code="exit_levels")
        if changes:
            position.save(update_fields=list(changes))
    return position
