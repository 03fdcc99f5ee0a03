"""Roles: investor < analyst < operator < administrator, as Django groups plus the staff/superuser flags.

- investor: every registered user; uses the product, no admin access.
- analyst: also reads market data, models, recommendations and backtests of everyone in the admin,
  read-only: the admin site lets analysts in (``accounts.admin_site``) and their group has only
  ``view_*`` permissions, so they change nothing there and see no accounts.
- operator (``is_staff``): also runs the installation: users (not their roles), sessions, tokens,
  lockouts, the audit log.
- administrator (``is_superuser``): everything, including roles.

Permissions are given as ``app_label.codename``; ``app_label.view_*`` means every view permission of
that app and ``app_label.*`` every permission. Permissions of apps that do not exist yet are skipped;
``manage.py sync_roles`` (or the data migration) applies the table again once they do.
"""

from __future__ import annotations

import fnmatch
from enum import StrEnum
from typing import Any

from django.apps import apps as global_apps


class Role(StrEnum):
    INVESTOR = "investor"
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMINISTRATOR = "administrator"


#: Lowest to highest; each role includes the ones before it.
ROLE_ORDER: tuple[Role, ...] = (Role.INVESTOR, Role.ANALYST, Role.OPERATOR, Role.ADMINISTRATOR)

_ANALYST = [
    "market.view_*",
    "portfolios.view_*",
    "learning.view_*",
    "recommendations.view_*",
    "backtesting.view_*",
]
_OPERATOR = [
    *_ANALYST,
    "accounts.view_user",
    "accounts.change_user",
    "accounts.view_auditevent",
    "accounts.view_usersession",
    "accounts.delete_usersession",
    "accounts.view_security_dashboard",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accessfailurelog",
    "axes.view_accesslog",
    "knox.view_authtoken",
    "knox.delete_authtoken",
    "market.*",
    # Feature-flag overrides (django-waffle switches) and model promotion are operators' jobs.
    "waffle.*",
    "learning.change_modelversion",
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.INVESTOR: [],
    Role.ANALYST: _ANALYST,
    Role.OPERATOR: _OPERATOR,
    Role.ADMINISTRATOR: [*_OPERATOR, "auth.*", "accounts.*"],
}


def _matching_permissions(permission_model: Any, patterns: list[str]) -> list[Any]:
    found: dict[int, Any] = {}
    candidates = list(permission_model.objects.select_related("content_type"))
    for pattern in patterns:
        app_label, _, codename = pattern.partition(".")
        for perm in candidates:
            if perm.content_type.app_label == app_label and fnmatch.fnmatchcase(perm.codename, codename):
                found[perm.pk] = perm
    return list(found.values())


def roles_sync(apps: Any = None) -> dict[str, int]:
    """Create the four groups and set their permissions from :data:`ROLE_PERMISSIONS`. Idempotent.

    ``apps`` is a migration's historical registry, or the live one when called from a command.
    Returns the number of permissions each group ends up with.
    """
    registry = apps or global_apps
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    counts: dict[str, int] = {}
    for role in ROLE_ORDER:
        group, _ = group_model.objects.get_or_create(name=role.value)
        perms = _matching_permissions(permission_model, ROLE_PERMISSIONS[role])
        group.permissions.set(perms)
        counts[role.value] = len(perms)
    return counts


def _in_group(user: Any, name: str) -> bool:
    # groups are cached per user object for the request, as Django caches permissions
    cache = getattr(user, "_quantai_group_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._quantai_group_names = cache
    return name in cache


def role_of(user: Any) -> Role | None:
    """The highest role a user holds, or ``None`` for anonymous or inactive users."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    if user.is_staff:
        return Role.OPERATOR
    if _in_group(user, Role.ANALYST.value):
        return Role.ANALYST
    return Role.INVESTOR


def has_role(user: Any, role: Role) -> bool:
    """Whether ``user`` holds ``role`` or a higher one."""
    held = role_of(user)
    return held is not None and ROLE_ORDER.index(held) >= ROLE_ORDER.index(role)


def is_analyst(user: Any) -> bool:
    return has_role(user, Role.ANALYST)


def is_operator(user: Any) -> bool:
    return has_role(user, Role.OPERATOR)


def is_administrator(user: Any) -> bool:
    return has_role(user, Role.ADMINISTRATOR)
