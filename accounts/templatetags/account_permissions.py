"""``{% if user|has_perm:"app_label.codename" %}``: a permission check that costs no query on a warm cache.

Use it instead of ``perms.app_label.codename`` in templates shown on every page: ``perms`` asks
``ModelBackend``, which runs two queries per request (see :mod:`accounts.permission_cache`).
"""

from __future__ import annotations

from typing import Any

from django import template

from accounts.permission_cache import user_has_perm

register = template.Library()


@register.filter
def has_perm(user: Any, perm: str) -> bool:
    """Whether ``user`` holds ``perm`` (``"app_label.codename"``), answered as ``user.has_perm(perm)`` would."""
    return user_has_perm(user, perm)
