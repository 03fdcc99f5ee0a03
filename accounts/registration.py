"""Registration that does not tell anyone whether a username or an e-mail address is in use.

Whatever was typed, a well-formed request gets the same answer ("check your e-mail") and one mail
goes to the address given:

- a new username and address: the account is created inactive and ``registration_pending``, and the
  mail carries a link (valid ``PASSWORD_RESET_TIMEOUT`` seconds, single-use) that activates it;
- an address that already has an account: the mail goes to that address's owner, saying so and
  pointing at sign-in and password reset (a pending account gets a fresh confirmation link instead);
- a username already taken (with a new address): the mail says the name is taken.

So an address's existence is only ever told to whoever reads that mailbox, and a username's only to
someone who proves they read a mailbox, at the registration rate limit. Timing is evened out by
hashing the password on every path. Sign-in cannot tell them apart either: an unconfirmed account
is inactive, so its sign-in fails exactly like a wrong password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.audit import audit_record
from accounts.mail import absolute_url, mail_user
from accounts.models import AuditAction, User
from accounts.roles import Role
from accounts.services import _normalize_username
from accounts.tokens import registration_tokens, uid_decode, uid_encode
from quantai.errors import RuleViolation

CHECK_YOUR_EMAIL = (
    "Check your e-mail. We sent a message to the address you gave: it has the link that activates your "
    "account, or tells you what to do instead. The link is valid for a few days."
)
INVALID_LINK = "This confirmation link is invalid, already used or expired. Register again to get a new one."


def _confirm_link(request: Any, user: User) -> str:
    path = reverse("register_confirm", args=[uid_encode(user), registration_tokens.make_token(user)])
    return absolute_url(request, path)


def _send_confirmation(request: Any, user: User) -> None:
    mail_user(
        to=user.email,
        template="registration_confirm",
        context={"username": user.username, "link": _confirm_link(request, user)},
    )


def registration_request(*, username: str, email: str, password: str, request: Any = None) -> None:
    """Check the shape of a registration and act on it as the module docstring says.

    Raises :class:`RuleViolation` (a :class:`ValidationFailed`; 422 in the API, whose schema already
    checked the shapes) only for what the input itself gets wrong (a name or address the user model
    refuses, a password a validator refuses: code ``password_policy`` when only the password is refused);
    never for a name or address in use.
    """
    username = _normalize_username(username)
    email = User.objects.normalize_email(email.strip()).lower()
    errors: dict[str, list[str]] = {}
    candidate = User(username=username, email=email)
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
    except DjangoValidationError as exc:
        errors.update({k: list(v) for k, v in exc.message_dict.items() if k in {"username", "email"}})
    if not email:
        errors.setdefault("email", ["Enter an e-mail address."])
    try:
        validate_password(password, candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        code = "password_policy" if set(errors) == {"password"} else RuleViolation.code
        raise RuleViolation("Some fields are invalid.", fields=errors, code=code)

    existing = User.objects.filter(email__iexact=email).order_by("pk").first()
    if existing is not None:
        make_password(password)  # the same work as creating an account
        if existing.registration_pending:
            _send_confirmation(request, existing)
        else:
            mail_user(
                to=existing.email,
                template="registration_email_taken",
                context={
                    "username": existing.username,
                    "login": absolute_url(request, reverse("login")),
                    "reset": absolute_url(request, reverse("password_reset")),
                },
            )
        audit_record(action=AuditAction.REGISTRATION, request=request, target=existing, details={"outcome": "email_in_use"})
        return

    taken = User.objects.filter(username__iexact=username).exists()
    user = None
    if not taken:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, email=email, password=password, is_active=False, registration_pending=True
                )
                user.groups.add(Group.objects.get_or_create(name=Role.INVESTOR.value)[0])
                audit_record(
                    action=AuditAction.REGISTRATION, actor=user, request=request, target=user, details={"outcome": "pending"}
                )
        except IntegrityError:
            # Two sign-ups racing for one name, or a collation that equates names we did not.
            taken, user = True, None
    if user is None:
        make_password(password)
        mail_user(
            to=email,
            template="registration_username_taken",
            context={"username": username, "register": absolute_url(request, reverse("register"))},
        )
        audit_record(action=AuditAction.REGISTRATION, request=request, details={"outcome": "username_in_use"})
        return
    _send_confirmation(request, user)


def registration_user(*, uidb64: str, token: str) -> User | None:
    """The pending account a confirmation link is for, or ``None`` when the link is not valid."""
    pk = uid_decode(uidb64)
    if pk is None or not isinstance(token, str) or len(token) > 100:
        return None
    user = User.objects.filter(pk=pk, registration_pending=True).first()
    if user is None or not registration_tokens.check_token(user, token):
        return None
    return user


def registration_confirm(*, uidb64: str, token: str, request: Any = None) -> User:
    """Activate the account of a valid confirmation link; the link then stops working."""
    with transaction.atomic():
        user = registration_user(uidb64=uidb64, token=token)
        if user is not None:
            user = User.objects.select_for_update().filter(pk=user.pk, registration_pending=True).first()
        if user is None:
            raise RuleViolation(INVALID_LINK, code="invalid_link")
        user.is_active = True
        user.registration_pending = False
        user.save(update_fields=["is_active", "registration_pending"])
        audit_record(action=AuditAction.REGISTRATION_CONFIRMED, actor=user, request=request, target=user)
    return user
