"""Forms of the accounts pages. They check shape only; rules live in ``accounts.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from accounts.questionnaire import QUESTIONS
from accounts.two_step import CODE_MAX_LENGTH
from quantai.errors import ApplicationError

USERNAME_MAX = 150
EMAIL_MAX = 254


def _password_field(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def apply_service_errors(form: forms.Form, error: ApplicationError, field_map: dict[str, str] | None = None) -> None:
    """Show a service's per-field errors on the form (unknown fields become form-wide errors)."""
    field_map = field_map or {}
    if not error.fields:
        form.add_error(None, error.message)
        return
    for field, messages in error.fields.items():
        name = field_map.get(field, field)
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(name if name in form.fields else None, str(message))


class LoginForm(AuthenticationForm):
    """Django's sign-in form with a bounded password (the hash of a megabyte is not free)."""

    password = _password_field("Password", "current-password")


class RegistrationForm(forms.Form):
    username = forms.CharField(
        max_length=USERNAME_MAX,
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(max_length=EMAIL_MAX, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = _password_field("Password", "new-password")
    password2 = _password_field("Password again", "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return data


class QuestionnaireForm(forms.Form):
    """One radio group per question of ``accounts.questionnaire.QUESTIONS``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in QUESTIONS:
            self.fields[question.key] = forms.ChoiceField(
                label=question.text,
                choices=[(o.value, o.label) for o in question.options],
                widget=forms.RadioSelect,
            )


class PasswordChangeForm(forms.Form):
    old_password = _password_field("Current password", "current-password")
    new_password1 = _password_field("New password", "new-password")
    new_password2 = _password_field("New password again", "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", "The two passwords differ.")
        return data


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=EMAIL_MAX, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class SetPasswordForm(forms.Form):
    new_password1 = _password_field("New password", "new-password")
    new_password2 = _password_field("New password again", "new-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", "The two passwords differ.")
        return data


def _code_field(label: str = "Code") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=CODE_MAX_LENGTH,
        help_text="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false", "autofocus": True}
        ),
    )


class TwoStepCodeForm(forms.Form):
    """The second step of signing in, or a code that confirms a change to two-step sign-in."""

    otp = _code_field()


class TwoStepSetupForm(forms.Form):
    otp = forms.CharField(
        label="Code from the app",
        max_length=CODE_MAX_LENGTH,
        help_text="The 6-digit code the app shows for QuantAI.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class TwoStepDisableForm(forms.Form):
    password = _password_field("Password", "current-password")
    otp = _code_field()
