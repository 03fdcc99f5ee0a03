"""The admin site, opened to analysts for reading (``accounts.roles``: analysts read market data,
models, recommendations and backtests of everyone in the admin), and closed to any session that has
not passed two-step sign-in (``accounts.two_step``).

Django's admin lets in staff only. Here an active analyst is let in too; what they see and do is
then decided per model by their group's permissions, which are ``view_*`` only, so every page is
read-only for them and any change, addition or deletion is refused (403).

Whoever enters (analyst, operator, administrator) must have signed in with a code from their
authenticator app in this session. Someone who may enter but has not is sent on, never shown the
admin: to the code page when they have two-step sign-in on, to set it up when they do not.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.roles import is_analyst

# accounts.two_step reads models: imported inside the functions, since Django imports this module
# (named in INSTALLED_APPS) before the models are ready.

_View = TypeVar("_View", bound=Callable[..., Any])

SET_UP_MESSAGE = "The admin and the staff pages need two-step sign-in. Set it up with an authenticator app to continue."


class QuantAIAdminSite(admin.AdminSite):
    site_header = "QuantAI administration"

    def role_admits(self, request: HttpRequest) -> bool:
        """Whether the user's role opens the admin (before the second step is considered)."""
        return super().has_permission(request) or is_analyst(request.user)

    def has_permission(self, request: HttpRequest) -> bool:
        from accounts.two_step import session_verified

        return self.role_admits(request) and session_verified(request.user)

    def admin_view(self, view: _View, cacheable: bool = False) -> _View:
        from accounts.two_step import session_verified

        checked = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if self.role_admits(request) and not session_verified(request.user):
                return two_step_required_redirect(request)
            return checked(request, *args, **kwargs)  # type: ignore[no-any-return]

        return cast(_View, update_wrapper(never_cache(inner), checked))


def two_step_required_redirect(request: HttpRequest) -> HttpResponse:
    """Send a signed-in user whose session lacks the second step to the code page or to set-up."""
    from accounts.two_step import two_step_enabled

    if request.path == reverse("admin:logout"):
        return HttpResponseRedirect(reverse("logout"))
    query = urlencode({"next": request.get_full_path()})
    if two_step_enabled(request.user):
        return HttpResponseRedirect(f"{reverse('login_two_step')}?{query}")
    messages.info(request, SET_UP_MESSAGE, fail_silently=True)
    return HttpResponseRedirect(f"{reverse('two_step_settings')}?{query}")


class QuantAIAdminConfig(AdminConfig):
    """Put in ``INSTALLED_APPS`` instead of ``django.contrib.admin``."""

    default_site = "accounts.admin_site.QuantAIAdminSite"
