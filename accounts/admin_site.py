"""The admin site, opened to analysts for reading (``accounts.roles``: analysts read market data,
models, recommendations and backtests of everyone in the admin).

Django's admin lets in staff only. Here an active analyst is let in too; what they see and do is
then decided per model by their group's permissions, which are ``view_*`` only, so every page is
read-only for them and any change, addition or deletion is refused (403).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from accounts.roles import is_analyst


class QuantAIAdminSite(admin.AdminSite):
    site_header = "QuantAI administration"

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) or is_analyst(request.user)


class QuantAIAdminConfig(AdminConfig):
    """Put in ``INSTALLED_APPS`` instead of ``django.contrib.admin``."""

    default_site = "accounts.admin_site.QuantAIAdminSite"
