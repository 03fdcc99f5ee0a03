"""A user's Django permissions read from the shared cache, so checking one on a page costs no query.

``user.has_perm()`` asks ``ModelBackend``, which runs two queries per request (the user's own
permissions, then their groups' permissions) and keeps the answer only on that request's user object.
``base.html`` checks a permission for the navigation on every page, so every signed-in page paid both.

Why a cache of the real permission set and not a permission derived from the role: the role table
(``accounts.roles.ROLE_PERMISSIONS``) is only what ``sync_roles`` writes. Administrators may still add
permissions to a group or to one user in the admin, and ``has_perm`` answers from those rows; deriving the
answer from the role would disagree with it. So the set is computed from the same rows ``ModelBackend``
reads (one query: the user's permissions and their groups' together) and kept in the shared cache.

Why one version for everyone instead of deleting one user's entry: changing a group's permissions changes
the set of every member, and deleting a group or a permission removes rows without ``m2m_changed``. Any
such change is rare (an administrator at work), so it draws a new version and every entry becomes stale
at once. An entry carries the version it was computed under and is read together with the current
version in one cache round trip. The version is drawn again when the change commits, so an entry a
concurrent request computed from the rows before the commit is not kept.

Superusers and inactive users are answered from their flags, as ``PermissionsMixin.has_perm`` does, so an
entry never depends on those flags. The project's other backend (axes) grants no permissions.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

from accounts.models import User

VERSION_KEY = "accounts:perms:version"
_ENTRY_KEY = "accounts:perms:user:{pk}"
#: Seconds an entry lives. Invalidation does not rely on it; it bounds what a process with its own
#: local-memory cache (development without Redis) can miss from another process.
ENTRY_TIMEOUT = 300
_ON_USER = "_quantai_permissions"


def _current_version() -> str | None:
    cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    version: str | None = cache.get(VERSION_KEY)
    return version


def _permissions_from_database(user: Any) -> frozenset[str]:
    # ModelBackend's two queries (the user's own rows, their groups' rows) in one round trip.
    fields = ("content_type__app_label", "codename")
    own = Permission.objects.filter(user=user).values_list(*fields).order_by()
    rows = own.union(Permission.objects.filter(group__user=user).values_list(*fields).order_by())
    return frozenset(f"{app_label}.{codename}" for app_label, codename in rows)


def user_permissions(user: Any) -> frozenset[str]:
    """``"app_label.codename"`` of every permission an active, non-superuser ``user`` holds through their own
    rows or their groups: ``ModelBackend``'s answer. Kept on the user object for the rest of the request."""
    held: frozenset[str] | None = getattr(user, _ON_USER, None)
    if held is not None:
        return held
    key = _ENTRY_KEY.format(pk=user.pk)
    found = cache.get_many([VERSION_KEY, key])
    version, entry = found.get(VERSION_KEY), found.get(key)
    if version is not None and entry is not None and entry[0] == version:
        held = frozenset(entry[1])
    else:
        version = version or _current_version()
        held = _permissions_from_database(user)
        if version is not None:  # None: the cache does not answer; the database did
            cache.set(key, (version, sorted(held)), timeout=ENTRY_TIMEOUT)
    setattr(user, _ON_USER, held)
    return held


def user_has_perm(user: Any, perm: str) -> bool:
    """``user.has_perm(perm)`` (no object permissions) without a query once the user's set is cached."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return perm in user_permissions(user)


def permissions_changed() -> None:
    """Every cached permission set is stale: now, and again when the current transaction commits."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    transaction.on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None))


def _on_m2m(sender: Any, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        permissions_changed()


def _on_row(sender: Any, **kwargs: Any) -> None:
    permissions_changed()


def connect() -> None:
    """Called from ``AccountsConfig.ready``: whatever can change someone's permissions draws a new version.

    The through models cover both directions (``user.groups.add`` and ``group.user_set.add``). Deleting a
    group, a permission or a user deletes their rows without ``m2m_changed``; a renamed permission
    (``post_save``) changes what its rows mean; a data migration (``sync_roles``' table) uses historical
    models, which send no signal this module listens to, hence ``post_migrate``."""
    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_on_m2m, sender=through, dispatch_uid=f"accounts.perms.m2m.{through._meta.label}")
    for model in (Group, Permission, User):
        post_delete.connect(_on_row, sender=model, dispatch_uid=f"accounts.perms.delete.{model._meta.label}")
    post_save.connect(_on_row, sender=Permission, dispatch_uid="accounts.perms.save.permission")
    post_migrate.connect(_on_row, dispatch_uid="accounts.perms.migrate")
