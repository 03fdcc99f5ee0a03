"""The accounts app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Export: the profile (never the password hash), signed-in sessions, API tokens (never their digest) and
the audit events the user caused.

Erase (runs last, just before the user row is deleted): every browser session and API token ends; the
sign-in records of django-axes under the user's name or e-mail are deleted; the audit log keeps its
events (it is security evidence) but they are re-pointed to the placeholder, with the IP address, user
agent and any mention of the name or e-mail removed; admin log entries about the user are renamed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.auth import SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import AuditEvent, User, UserSession
from accounts.sessions import session_store, sessions_end
from quantai.personal_data import Table, register, table_from

#: Columns of the user row that are never exported: the password hash is a secret, not data about the person.
PROFILE_EXCLUDED = ("password",)


def export(user: User) -> dict[str, Table]:
    groups = list(user.groups.order_by("name").values_list("name", flat=True))
    profile = table_from(User.objects.filter(pk=user.pk), exclude=PROFILE_EXCLUDED)
    rows = [{**row, "groups": groups} for row in profile.rows]
    return {
        "profile": Table(columns=[*profile.columns, "groups"], rows=rows),
        "sessions": table_from(UserSession.objects.filter(user=user), exclude=("session_key",)),
        "api_tokens": table_from(AuthToken.objects.filter(user=user), exclude=("digest",)),
        "audit_events": table_from(AuditEvent.objects.filter(actor=user)),
    }


def _identifiers(user: User) -> list[str]:
    return [value for value in (user.get_username(), user.email) if value]


def scrub_strings(value: Any, replace: Callable[[str], str]) -> Any:
    """``value`` (JSON-like) with ``replace`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, Mapping):
        return {replace(str(k)): scrub_strings(v, replace) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_strings(v, replace) for v in value]
    return value


def _text_needles(identifiers: list[str]) -> Q:
    """Rows whose ``details`` text contains an identifier, as stored (SQLite's JSON text escapes non-ASCII)."""
    condition = Q()
    for identifier in identifiers:
        for form in {identifier, json.dumps(identifier)[1:-1]}:
            condition |= Q(details_text__icontains=form)
    return condition


def _audit_pseudonymise(user: User, placeholder: User) -> int:
    """Re-point the user's audit events to the placeholder and remove what identifies the person.

    ``AuditEvent.save()`` refuses to rewrite a row (the log is append-only for everyone else); erasure is
    the one sanctioned rewrite, done with queryset updates that change only the identifying columns.
    In the user's own events any mention of the name or e-mail is replaced; in other events (failed
    sign-ins and lockouts have no actor but record the name tried) only a value that *is* the name or
    e-mail is, so a short username cannot garble other people's records.
    """
    identifiers = _identifiers(user)
    alias = placeholder.get_username()
    pattern = re.compile("|".join(re.escape(i) for i in identifiers), re.IGNORECASE)
    folded = {i.casefold() for i in identifiers}
    own_ids = set(AuditEvent.objects.filter(Q(actor=user) | Q(actor_username__in=identifiers)).values_list("pk", flat=True))
    changed = AuditEvent.objects.filter(pk__in=own_ids).update(actor=placeholder, actor_username=alias, ip=None, user_agent="")
    changed += AuditEvent.objects.filter(target_type="accounts.user", target_id=str(user.pk)).update(
        target_id=str(placeholder.pk)
    )
    candidates = AuditEvent.objects.annotate(details_text=Cast("details", TextField())).filter(_text_needles(identifiers))
    for event_id, details in candidates.values_list("pk", "details"):
        if event_id in own_ids:
            scrubbed = scrub_strings(details, lambda text: pattern.sub(alias, text))
        else:
            scrubbed = scrub_strings(details, lambda text: alias if text.strip().casefold() in folded else text)
        if scrubbed == details:
            continue  # the text matched only inside a longer value of someone else's event
        update: dict[str, Any] = {"details": scrubbed}
        if event_id not in own_ids:
            update.update(ip=None, user_agent="")
            changed += 1
        AuditEvent.objects.filter(pk=event_id).update(**update)
    return changed


def _untracked_sessions_end(user: User) -> int:
    """End live sessions signed in as ``user`` that have no ``UserSession`` row (made before tracking, or by tests).

    Reads every unexpired session once: deletion is rare, and a leftover session must not outlive its user.
    """
    store = session_store()
    keys = []
    for key, data in Session.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data").iterator():
        if str(store.decode(data).get(SESSION_KEY)) == str(user.pk):
            keys.append(key)
    for key in keys:
        store.delete(key)
    return len(keys)


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    identifiers = _identifiers(user)
    by_name = Q()
    for identifier in identifiers:
        by_name |= Q(username__iexact=identifier)
    sign_in_records = sum(model.objects.filter(by_name).delete()[0] for model in (AccessAttempt, AccessFailureLog, AccessLog))
    user_type = ContentType.objects.get_for_model(User)
    admin_entries = LogEntry.objects.filter(content_type=user_type, object_id=str(user.pk)).update(
        object_id=str(placeholder.pk), object_repr=placeholder.get_username()[:200]
    )
    return {
        "sessions_ended": sessions_end(user=user) + _untracked_sessions_end(user),
        "api_tokens_revoked": AuthToken.objects.filter(user=user).delete()[0],
        "sign_in_records_deleted": sign_in_records,
        "audit_events_pseudonymised": _audit_pseudonymise(user, placeholder),
        "admin_log_entries_renamed": admin_entries,
    }


register("accounts", export=export, erase=erase)
