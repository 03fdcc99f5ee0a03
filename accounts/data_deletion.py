"""Account deletion: remove a person's data, keep the anonymous aggregates the learning system needs.

What "anonymised" means here, concretely:

- The user row is deleted: username, e-mail, password hash, names, questionnaire answers, preferences,
  starting cash and portfolio figures are gone, and so are the user's sessions and API tokens.
- A *placeholder* user is created for this one deletion: ``deleted-<16 random hex digits>``, inactive,
  no usable password, no e-mail, no groups, no portfolio. Only the two coarse categories the acceptance
  model uses as features (risk tolerance, investment experience) are copied onto it. Nothing maps the
  placeholder back to the person: the random name is not derived from anything.
- Each app's erase step (:mod:`quantai.personal_data`) deletes or detaches its rows: portfolios deletes
  the ledger, positions, cash and alerts; backtesting deletes the runs; learning detaches training runs;
  recommendations move the recommendations and answers to the placeholder and empty the free-text
  comments, so accuracy, acceptance, calibration and the acceptance model count exactly what they counted
  before. accounts ends sessions and tokens, deletes axes sign-in records under the name or e-mail, and
  keeps the audit log's events re-pointed to the placeholder without IP, user agent or name.
- One audit event ``profile_change`` / ``account_deleted`` is written, by the placeholder, with the counts.

All of it runs in one transaction: if any step fails, nothing is deleted.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from quantai.errors import Conflict, ValidationFailed
from quantai.personal_data import erase_order

logger = logging.getLogger("accounts.data_deletion")

PLACEHOLDER_PREFIX = "deleted-"


@dataclass
class DeletionResult:
    placeholder_username: str
    erased: dict[str, dict[str, int]] = field(default_factory=dict)


def placeholder_create(*, source: User) -> User:
    """A fresh, inactive, anonymous user carrying only ``source``'s risk tolerance and experience."""
    placeholder = User(
        username=f"{PLACEHOLDER_PREFIX}{secrets.token_hex(8)}",
        email="",
        is_active=False,
        risk_tolerance=source.risk_tolerance,
        investment_experience=source.investment_experience,
        password=make_password(None),
    )
    placeholder.save()
    return placeholder


def account_delete(*, user: User, password: str) -> DeletionResult:
    """Delete ``user``'s account as described in the module docstring; all or nothing.

    ``password`` must be the user's current password (re-entry before an irreversible step). Staff and
    superuser accounts are refused: an administrator is demoted first, so deleting one is never a side
    effect of a typo.
    """
    if not (password and user.check_password(password)):
        raise ValidationFailed("Some fields are invalid.", fields={"password": ["Your password is not correct."]})
    if user.is_staff or user.is_superuser:
        raise Conflict(
            "Staff and administrator accounts cannot be deleted here; remove the role first.", code="account_deletion_refused"
        )
    steps = erase_order()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        placeholder = placeholder_create(source=locked)
        result = DeletionResult(placeholder_username=placeholder.get_username())
        for provider in steps:
            assert provider.erase is not None
            result.erased[provider.name] = dict(provider.erase(user=locked, placeholder=placeholder))
        locked.groups.clear()
        locked.user_permissions.clear()
        locked.delete()
        # Written by the placeholder and without the request: the event must not carry the IP or user agent.
        audit_record(
            action=AuditAction.PROFILE_CHANGE,
            actor=placeholder,
            target=placeholder,
            details={"change": "account_deleted", "erased": result.erased},
        )
    logger.info("account deleted; data kept under placeholder %s", result.placeholder_username)
    return result
