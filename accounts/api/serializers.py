"""Serializers of the accounts API: strict input (types, sizes, known fields only) and plain output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import User, UserSession
from accounts.profiles import profile_for
from accounts.questionnaire import MAX_SCORE, QUESTIONS, TOLERANCE_THRESHOLDS
from accounts.roles import role_of
from accounts.selectors import onboarding_next_step
from accounts.services import STARTING_CASH_MAX, STARTING_CASH_MIN
from accounts.two_step import CODE_MAX_LENGTH
from quantai.api_fields import StrictDecimalField

USERNAME_MAX = 150
EMAIL_MAX = 254


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and the like instead of turning them into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class PasswordField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", settings.PASSWORD_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored (a typo must not look like success)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = [str(k)[:100] for k in data if k not in self.fields]
            if unknown:
                raise serializers.ValidationError({k: ["Unknown field."] for k in sorted(unknown)[:20]})
        return super().to_internal_value(data)


class RegisterSerializer(StrictSerializer):
    """The shapes (the schema says them: a username of letters, digits and @.+-_); the password policy and the
    rules on the name as stored are the service's, answered 422 (``accounts.registration``)."""

    username = StrictCharField(
        max_length=USERNAME_MAX,
        # Django's username characters, with the schema's "$" (a final newline is stripped like spaces).
        validators=[RegexValidator(r"^[\w.@+-]+$", "Letters, digits and @ . + - _ only.")],
    )
    email = StrictEmailField(max_length=EMAIL_MAX)
    password = PasswordField()


class LinkTokenSerializer(StrictSerializer):
    """The two last parts of a link sent by e-mail."""

    uid = StrictCharField(max_length=64)
    token = StrictCharField(max_length=100)


class PasswordResetRequestSerializer(StrictSerializer):
    email = StrictEmailField(max_length=EMAIL_MAX)


class PasswordResetConfirmSerializer(LinkTokenSerializer):
    new_password = PasswordField()


class LoginSerializer(StrictSerializer):
    username = StrictCharField(max_length=USERNAME_MAX)
    password = PasswordField()
    otp = StrictCharField(
        max_length=CODE_MAX_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Only for accounts with two-step sign-in on: the 6-digit code from the authenticator app, "
        "or an unused recovery code. Without it such an account answers 401 'otp_required'.",
    )


class PasswordChangeSerializer(StrictSerializer):
    old_password = PasswordField()
    new_password = PasswordField()


def _question_fields() -> dict[str, serializers.Field]:
    return {q.key: serializers.ChoiceField(choices=[o.value for o in q.options], help_text=q.text) for q in QUESTIONS}


QuestionnaireSerializer = serializers.SerializerMetaclass(
    "QuestionnaireSerializer",
    (StrictSerializer,),
    {
        "__module__": __name__,
        "__doc__": "The seven answers; each must be one of the offered values (see GET).",
        **_question_fields(),
    },
)


class StartingCashSerializer(StrictSerializer):
    # Eleven digits: the schema's pattern then spells out the maximum (100000000.00) exactly.
    starting_cash = StrictDecimalField(max_digits=11, decimal_places=2, min_value=STARTING_CASH_MIN, max_value=STARTING_CASH_MAX)


class NextStepSerializer(serializers.Serializer):
    stage = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()
    url = serializers.CharField()


class RiskProfileSerializer(serializers.Serializer):
    name = serializers.CharField()
    summary = serializers.CharField()
    max_position_weight = serializers.DecimalField(max_digits=5, decimal_places=4)
    kelly_fraction = serializers.DecimalField(max_digits=5, decimal_places=4)
    var_budget_1d_95 = serializers.DecimalField(max_digits=5, decimal_places=4)
    allowed_actions = serializers.SerializerMethodField()
    allows_shorting = serializers.BooleanField()

    def get_allowed_actions(self, obj: Any) -> list[str]:
        return sorted(obj.allowed_actions)


class UserProfileSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    next_step = serializers.SerializerMethodField()
    risk_profile = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "role",
            "risk_tolerance",
            "investment_experience",
            "onboarding_stage",
            "next_step",
            "profiled_at",
            "starting_cash",
            "portfolio_value",
            "total_pnl",
            "risk_profile",
            "date_joined",
            "last_login",
        ]
        read_only_fields = fields

    def get_role(self, obj: User) -> str | None:
        role = role_of(obj)
        return role.value if role else None

    def get_next_step(self, obj: User) -> dict[str, str] | None:
        step = onboarding_next_step(obj)
        return NextStepSerializer(step).data if step else None  # type: ignore[return-value]

    def get_risk_profile(self, obj: User) -> dict[str, Any]:
        return RiskProfileSerializer(profile_for(obj.risk_tolerance)).data  # type: ignore[return-value]


class QuestionnaireResultSerializer(serializers.Serializer):
    risk_tolerance = serializers.CharField()
    investment_experience = serializers.CharField()
    score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    points = serializers.DictField(child=serializers.IntegerField())
    capped = serializers.BooleanField(help_text="True when a beginner's score was capped at Moderate.")
    user = UserProfileSerializer()


class QuestionOptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    points = serializers.IntegerField()


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    text = serializers.CharField()
    options = QuestionOptionSerializer(many=True)


class QuestionnaireDefinitionSerializer(serializers.Serializer):
    questions = QuestionSerializer(many=True)
    max_score = serializers.IntegerField()
    thresholds = serializers.DictField(child=serializers.IntegerField(), help_text="Lowest total for each tolerance.")
    answers = serializers.DictField(child=serializers.CharField(), allow_null=True)


def questionnaire_definition(user: User) -> dict[str, Any]:
    return {
        "questions": QUESTIONS,
        "max_score": MAX_SCORE,
        "thresholds": {name: lower for lower, name in TOLERANCE_THRESHOLDS},
        "answers": (user.questionnaire or {}).get("answers"),
    }


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Token <token>'. Shown once; only its hash is stored.")
    expiry = serializers.DateTimeField()
    user = UserProfileSerializer()


class UserSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = UserSession
        fields = ["id", "created_at", "last_seen", "ip", "user_agent", "current"]
        read_only_fields = fields

    def get_current(self, obj: UserSession) -> bool:
        return bool(obj.session_key == self.context.get("current_session_key"))


class RevokeResultSerializer(serializers.Serializer):
    sessions_ended = serializers.IntegerField()
    tokens_revoked = serializers.IntegerField()
