"""Who may manage whom: the rule behind every change one person makes to another person's account.

Nobody changes the password, active flag, username, e-mail or roles of a user whose role is equal
to or above their own. Roles rank investor < analyst < operator < administrator, so an operator
manages investors and analysts, only an administrator manages operators, and nobody manages a peer
or themselves through these paths (their own password goes through the Settings page, which asks
for the current one; another administrator is changed from the server's shell with
``manage.py set_role`` / ``changepassword``).

The target's rank is read from its flags and groups even when it is inactive: a deactivated
administrator is still an administrator, so an operator cannot reactivate one and take it over.
"""

from __future__ import annotations

from typing import Any

from accounts.roles import ROLE_ORDER, Role, role_of

#: Fields of a user that only someone of a higher role may change.
PROTECTED_FIELDS: tuple[str, ...] = (
    "password",
    "is_active",
    "username",
    "email",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
)
#: Of those, the ones only an administrator may change, whoever the target is.
ROLE_FIELDS: tuple[str, ...] = ("is_staff", "is_superuser", "groups", "user_permissions")


def role_held(user: Any) -> Role:
    """The highest role ``user`` holds by its flags and groups, active or not (unlike ``role_of``)."""
    if user.is_superuser:
        return Role.ADMINISTRATOR
    if user.is_staff:
        return Role.OPERATOR
    if user.pk is not None and user.groups.filter(name=Role.ANALYST.value).exists():
        return Role.ANALYST
    return Role.INVESTOR


def _rank(role: Role | None) -> int:
    return -1 if role is None else ROLE_ORDER.index(role)


def can_manage(actor: Any, target: Any) -> bool:
    """Whether ``actor`` (signed in, active) may change ``target``'s protected fields or delete it.

    True only when the actor's role is strictly above the target's and the actor is at least an
    operator (investors and analysts manage nobody). Never true for oneself.
    """
    actor_role = role_of(actor)
    if actor_role is None or _rank(actor_role) < _rank(Role.OPERATOR):
        return False
    if target.pk is not None and target.pk == actor.pk:
        return False
    return _rank(actor_role) > _rank(role_held(target))


def can_change_roles(actor: Any, target: Any) -> bool:
    """Roles (staff/superuser flags, groups, permissions) are given only by an administrator."""
    return role_of(actor) is Role.ADMINISTRATOR and can_manage(actor, target)
