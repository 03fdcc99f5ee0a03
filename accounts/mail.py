"""Mails to one person (registration outcome, password reset), rendered from templates.

Links point at ``SITE_URL`` when it is set (production should set it, so no link depends on the
request's Host header), otherwise at the host of the request, which ``ALLOWED_HOSTS`` has checked.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.http import django_request

logger = logging.getLogger("accounts.mail")


def absolute_url(request: Any, path: str) -> str:
    base = str(getattr(settings, "SITE_URL", "") or "").rstrip("/")
    if base:
        return f"{base}{path}"
    if request is None:
        return path
    return django_request(request).build_absolute_uri(path)


def mail_user(*, to: str, template: str, context: dict[str, Any]) -> bool:
    """Send ``templates/accounts/email/<template>_subject.txt`` and ``<template>.txt`` to ``to``.

    Returns whether the mail left; a failing mail server is logged, never shown to the requester
    (the page answers the same either way).
    """
    context = {"site_url": str(getattr(settings, "SITE_URL", "") or ""), **context}
    subject = " ".join(render_to_string(f"accounts/email/{template}_subject.txt", context).split())
    body = render_to_string(f"accounts/email/{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    except (smtplib.SMTPException, OSError):
        logger.exception("mail %s could not be sent", template)
        return False
    return True
