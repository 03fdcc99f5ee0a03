"""``/api/auth/...``: registration, sign-in (session or token), onboarding, password, sessions.

Each view validates with a serializer, calls one service, and serialises the result. Errors leave
in the common shape ``{"error": {"code", "message", "fields"}}``; lockouts and rate limits answer
429 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django_otp.models import Device
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    LinkTokenSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    QuestionnaireDefinitionSerializer,
    QuestionnaireResultSerializer,
    QuestionnaireSerializer,
    RegisterSerializer,
    RevokeResultSerializer,
    StartingCashSerializer,
    TokenSerializer,
    UserProfileSerializer,
    UserSessionSerializer,
    questionnaire_definition,
)
from accounts.http import django_request
from accounts.lockout import lockout_response
from accounts.models import User
from accounts.password_reset import CHECK_YOUR_EMAIL as RESET_CHECK_YOUR_EMAIL
from accounts.password_reset import password_reset_confirm, password_reset_request
from accounts.ratelimits import rate_limit
from accounts.registration import CHECK_YOUR_EMAIL, registration_confirm, registration_request
from accounts.selectors import user_sessions_list
from accounts.services import (
    InvalidCredentials,
    credentials_authenticate,
    is_locked_out,
    onboarding_complete,
    password_change,
    questionnaire_submit,
    session_login,
    session_logout,
    sessions_revoke_others,
    starting_cash_set,
    token_create,
    token_logout,
)
from accounts.two_step import two_step_enabled, two_step_sign_in_check
from quantai.parsers import BoundedJSONParser

TAG = "auth"

_ERROR = inline_serializer(
    "ErrorResponse",
    fields={
        "error": inline_serializer(
            "ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(),
            },
        )
    },
)
_ERRORS = {
    400: OpenApiResponse(_ERROR, description="Malformed input (`validation_error`); per-field messages in error.fields."),
    401: OpenApiResponse(_ERROR, description="Not signed in (sign-in: 'otp_required' or 'otp_invalid')."),
    429: OpenApiResponse(_ERROR, description="Rate limited or locked out; see the Retry-After header."),
}
_SIGN_IN_ERRORS = {
    **_ERRORS,
    400: OpenApiResponse(
        _ERROR,
        description="Malformed input (`validation_error`), or a username and password that do not match an active "
        "account (`invalid_credentials`, the same answer whichever part is wrong).",
    ),
}
_INVALID_LINK = "`invalid_link`: the link is invalid, already used or expired"
_POLICY_REFUSAL = "`password_policy`: a password validator refuses the password (per-field messages)"


def _profile(user: User, request: Request) -> dict[str, Any]:
    return UserProfileSerializer(user, context={"request": request}).data  # type: ignore[return-value]


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


class _AnonymousJsonView(APIView):
    """Sign-in and registration: open to anyone, JSON bodies only (a cross-site HTML form cannot
    send JSON without a CORS preflight, which keeps login CSRF out)."""

    permission_classes = [AllowAny]
    parser_classes = [BoundedJSONParser]


_DETAIL = inline_serializer("Detail", fields={"detail": serializers.CharField()})


@method_decorator(rate_limit("register"), name="post")
class RegisterView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=RegisterSerializer,
        responses={
            202: _DETAIL,
            **_ERRORS,
            422: OpenApiResponse(
                _ERROR, description=f"{_POLICY_REFUSAL}; `rule_violation`: the user model refuses the name or address."
            ),
        },
        summary="Ask for an investor account",
        description="Username, e-mail and a password that passes every validator (length 12+, not common, "
        "not numeric, not like the username/e-mail). The answer is the same 202 whether or not the username "
        "or address is in use: the outcome goes to the address by e-mail, with a link that activates a new "
        "account (the page at the link, or POST its uid and token to /api/auth/register/confirm). Then sign "
        "in with /api/auth/login or /api/auth/token.",
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration_request(**serializer.validated_data, request=request)
        return Response({"detail": CHECK_YOUR_EMAIL}, status=status.HTTP_202_ACCEPTED)


class RegisterConfirmView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=LinkTokenSerializer,
        responses={
            200: UserProfileSerializer,
            400: _ERRORS[400],
            422: OpenApiResponse(_ERROR, description=_INVALID_LINK + "."),
            429: _ERRORS[429],
        },
        summary="Activate an account from its confirmation e-mail",
        description="uid and token are the last two parts of the link in the mail. Single-use; invalid, used "
        "or expired links answer 422 'invalid_link'. Does not sign in.",
    )
    def post(self, request: Request) -> Response:
        serializer = LinkTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = registration_confirm(
            uidb64=serializer.validated_data["uid"], token=serializer.validated_data["token"], request=request
        )
        return Response(_profile(user, request))


def _check_credentials(request: Request) -> tuple[User, Device | None] | HttpResponse:
    """The user and, when they have two-step sign-in on, the device that accepted ``otp``.

    The code is looked at only after the password is right, so ``otp_required`` says nothing about
    accounts whose password the caller does not know. A wrong code counts toward the lockout.
    """
    serializer = LoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    user = credentials_authenticate(request=request, username=data["username"], password=data["password"])
    if is_locked_out(request):
        return lockout_response(django_request(request), None, {"username": data["username"]})
    if user is None:
        raise InvalidCredentials("The username or password is not correct.")
    if not two_step_enabled(user):
        return user, None
    return user, two_step_sign_in_check(request=request, user=user, code=data.get("otp"))


@method_decorator(rate_limit("login"), name="post")
class LoginView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=LoginSerializer,
        responses={200: UserProfileSerializer, **_SIGN_IN_ERRORS},
        summary="Sign in with a session cookie",
        description="Starts a session (new session id and CSRF token). After 5 failures for one username from one "
        "IP, sign-in is refused with 429 'locked_out' until the cool-off ends. An account with two-step sign-in on "
        "also needs 'otp' (authenticator code or recovery code): without it 401 'otp_required', wrong 401 "
        "'otp_invalid' (counted toward the lockout like a wrong password).",
    )
    def post(self, request: Request) -> HttpResponse:
        result = _check_credentials(request)
        if isinstance(result, HttpResponse):
            return result
        user, device = result
        session_login(request=request, user=user, device=device)
        return Response(_profile(user, request))


@method_decorator(rate_limit("login"), name="post")
class TokenView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=LoginSerializer,
        responses={
            200: TokenSerializer,
            409: OpenApiResponse(_ERROR, description="Too many active tokens (`token_limit`)."),
            **_SIGN_IN_ERRORS,
        },
        summary="Get an expiring API token",
        description="Returns a token to send as 'Authorization: Token <token>'. It expires (10 h by default) and only "
        "its SHA-512 digest is stored. Same lockout, rate limit and two-step 'otp' rule as session sign-in.",
    )
    def post(self, request: Request) -> HttpResponse:
        result = _check_credentials(request)
        if isinstance(result, HttpResponse):
            return result
        user, _device = result
        instance, token = token_create(request=request, user=user)
        data = TokenSerializer({"token": token, "expiry": instance.expiry, "user": user}, context={"request": request}).data
        return Response(data)


class LogoutView(APIView):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={204: None, 401: _ERRORS[401]},
        summary="Sign out",
        description="With a token: deletes that token. With a session: deletes the server-side session.",
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            token_logout(request=request, token=request.auth)
        else:
            session_logout(request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(tags=[TAG], responses={200: UserProfileSerializer, 401: _ERRORS[401]}, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(_profile(_user(request), request))


class QuestionnaireView(APIView):
    @extend_schema(
        tags=[TAG],
        responses={200: QuestionnaireDefinitionSerializer, 401: _ERRORS[401]},
        summary="The risk questionnaire, its points table and your current answers",
    )
    def get(self, request: Request) -> Response:
        return Response(QuestionnaireDefinitionSerializer(questionnaire_definition(_user(request))).data)

    @extend_schema(
        tags=[TAG],
        request=QuestionnaireSerializer,
        responses={200: QuestionnaireResultSerializer, **_ERRORS},
        summary="Answer (or retake) the risk questionnaire",
        description="Sets risk_tolerance and investment_experience from the documented points table.",
    )
    def put(self, request: Request) -> Response:
        serializer = QuestionnaireSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = _user(request)
        result = questionnaire_submit(user=user, answers=dict(serializer.validated_data), request=request)
        data = {
            "risk_tolerance": result.risk_tolerance,
            "investment_experience": result.investment_experience,
            "score": result.score,
            "max_score": result.max_score,
            "points": result.points,
            "capped": result.capped,
            "user": user,
        }
        return Response(QuestionnaireResultSerializer(data, context={"request": request}).data)

    @extend_schema(
        tags=[TAG],
        request=QuestionnaireSerializer,
        responses={200: QuestionnaireResultSerializer, **_ERRORS},
        summary="Answer (or retake) the risk questionnaire (same as PUT)",
    )
    def post(self, request: Request) -> Response:
        return self.put(request)


class StartingCashView(APIView):
    @extend_schema(
        tags=[TAG],
        request=StartingCashSerializer,
        responses={200: UserProfileSerializer, 409: OpenApiResponse(_ERROR, description="Wrong onboarding stage."), **_ERRORS},
        summary="Set the starting cash (portfolio setup step)",
    )
    def put(self, request: Request) -> Response:
        serializer = StartingCashSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = starting_cash_set(user=_user(request), amount=serializer.validated_data["starting_cash"], request=request)
        return Response(_profile(user, request))

    @extend_schema(
        tags=[TAG],
        request=StartingCashSerializer,
        responses={200: UserProfileSerializer, 409: OpenApiResponse(_ERROR, description="Wrong onboarding stage."), **_ERRORS},
        summary="Set the starting cash (same as PUT)",
    )
    def post(self, request: Request) -> Response:
        return self.put(request)


class OnboardingCompleteView(APIView):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={200: UserProfileSerializer, 409: OpenApiResponse(_ERROR, description="Earlier steps missing."), **_ERRORS},
        summary="Finish onboarding",
    )
    def post(self, request: Request) -> Response:
        user = onboarding_complete(user=_user(request), request=request)
        return Response(_profile(user, request))


@method_decorator(rate_limit("password_change", key="user"), name="post")
class PasswordChangeView(APIView):
    @extend_schema(
        tags=[TAG],
        request=PasswordChangeSerializer,
        responses={
            200: RevokeResultSerializer,
            **_ERRORS,
            422: OpenApiResponse(
                _ERROR,
                description=f"`wrong_password`: the current password is not correct; {_POLICY_REFUSAL} (or is the current one).",
            ),
        },
        summary="Change your password",
        description="Needs the current password. Every other session and every API token of the user is ended "
        "(the token making the request too, when the request uses one); a browser session making the request "
        "stays signed in.",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = password_change(user=_user(request), **serializer.validated_data, request=request)
        return Response(RevokeResultSerializer(result).data)


class SessionsView(APIView):
    @extend_schema(
        tags=[TAG],
        responses={200: UserSessionSerializer(many=True), 401: _ERRORS[401]},
        summary="Your signed-in browser sessions",
    )
    def get(self, request: Request) -> Response:
        sessions = user_sessions_list(user=_user(request))
        context = {"current_session_key": django_request(request).session.session_key, "request": request}
        return Response(UserSessionSerializer(sessions, many=True, context=context).data)


class SessionsRevokeOthersView(APIView):
    @extend_schema(
        tags=[TAG],
        request=None,
        responses={200: RevokeResultSerializer, 401: _ERRORS[401]},
        summary="Sign out everywhere else",
        description="Ends every other browser session and every other API token; the one in use is kept.",
    )
    def post(self, request: Request) -> Response:
        return Response(RevokeResultSerializer(sessions_revoke_others(user=_user(request), request=request)).data)


@method_decorator(rate_limit("password_reset"), name="post")
class PasswordResetRequestView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=PasswordResetRequestSerializer,
        responses={202: _DETAIL, 400: _ERRORS[400], 429: _ERRORS[429]},
        summary="Ask for a password reset link by e-mail",
        description="Always the same 202, whether or not an account uses the address; if one does, it gets a "
        "link (valid one hour, single-use). Its last two path parts are the uid and token for "
        "/api/auth/password-reset/confirm. Rate-limited per client address and per e-mail address.",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(email=serializer.validated_data["email"], request=request)
        return Response({"detail": RESET_CHECK_YOUR_EMAIL}, status=status.HTTP_202_ACCEPTED)


@method_decorator(rate_limit("password_reset"), name="post")
class PasswordResetConfirmView(_AnonymousJsonView):
    @extend_schema(
        tags=[TAG],
        request=PasswordResetConfirmSerializer,
        responses={
            200: RevokeResultSerializer,
            400: _ERRORS[400],
            422: OpenApiResponse(_ERROR, description=f"{_INVALID_LINK}; {_POLICY_REFUSAL}."),
            429: _ERRORS[429],
        },
        summary="Set a new password from a reset link",
        description="Every password validator applies. Ends every browser session and API token of the account "
        "(counts returned). An invalid, used or expired link answers 422 'invalid_link'. Does not sign in.",
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = password_reset_confirm(
            uidb64=data["uid"], token=data["token"], new_password=data["new_password"], request=request
        )
        return Response(RevokeResultSerializer(result).data)
