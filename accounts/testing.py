"""Test helpers other apps' tests may use (accounts is imported by all)."""

from __future__ import annotations

from typing import Any

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def force_login_verified(client: Any, user: Any) -> TOTPDevice:
    """``client.force_login(user)`` for a session that has also passed two-step sign-in.

    The admin refuses sessions without the second step (``accounts.admin_site``); tests that open it
    as staff or an analyst sign in with this instead of weakening that rule. Gives the user a
    confirmed authenticator if they have none. Returns it.
    """
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
