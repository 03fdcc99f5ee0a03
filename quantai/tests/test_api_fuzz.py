"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation in ``/api/schema/`` is called with generated valid and invalid input as a signed-in
investor (token auth) who has cash, a position and recommendations, so generated requests reach the
logic behind the ids (``user_id`` is ``me`` or digits in the schema; valid requests use the investor's
own ids half of the time). Schemathesis' default checks all run: a 5xx, a status code or header the
schema does not document, a response body that violates the schema, invalid input that is accepted
(every body is a closed object, every decimal an exact pattern), or valid input that is refused.

Valid input may still be refused by the account's state (409: not enough cash, an answered
recommendation, a reused idempotency key) or by a rule the schema cannot express (422: a password
the policy refuses, a backtest period without prices), each documented per operation
(``quantai.errors``), so 422 joins the statuses "positive data acceptance" takes; sign-in answers
unknown credentials with 400 ``invalid_credentials`` as the API documents. On top of that, valid input
never gets 400 ``validation_error``: that code says the input is malformed, and the schema said it
was not. The per-user API limit and the per-endpoint limits are raised far above the run's request
count (lockouts are lifted), so the fuzzer exercises the logic rather than the limiter; those are
tested on their own.

The operations are driven with schemathesis' hypothesis strategies directly: its pytest plugin
does not run under pytest 9 yet.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

#: Per operation and generation mode; bounded so the whole run stays short (about a minute).
MAX_EXAMPLES = 20
#: Schemathesis' own list for valid input, and 422: a rule refused well-formed input (``quantai.errors``).
ACCEPTABLE = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
#: Sign-in answers a username and password that match no account with 400 ``invalid_credentials``.
SIGN_IN = r"^/api/auth/(login|token)$"
CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTABLE}},
    "operations": [
        {"include-path-regex": SIGN_IN, "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTABLE, "400"]}}}
    ],
}


def refused_as_malformed(path: str, response) -> str | None:  # type: ignore[no-untyped-def]
    """Why a schema-valid request's answer is wrong although its status is allowed, if it is."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    if code == "validation_error":
        return f"schema-valid input refused as malformed ({response.status_code} validation_error): {response.text[:500]}"
    if response.status_code == 400 and not (re.match(SIGN_IN, path) and code == "invalid_credentials"):
        return f"schema-valid input answered 400 {code}: {response.text[:500]}"
    return None


def seed_investor(django_user_model):  # type: ignore[no-untyped-def]
    """An investor with cash, an AAPL position with a price, and two recommendations: ids for the fuzzer."""
    from datetime import timedelta

    from django.utils import timezone

    from portfolios.factories import buy, funded_investor, price_bar
    from recommendations.factories import RecommendationFactory

    investor = funded_investor("100000.00", username="fuzz-investor", email="fuzz@example.com")
    investor.set_password("a-long-pass-phrase-1")
    investor.save(update_fields=["password"])
    price_bar("AAPL", timezone.localdate() - timedelta(days=1), "100.00")
    buy(investor, "AAPL", 5, "100.00")
    ids = {
        "position_id": list(investor.positions.values_list("pk", flat=True)),
        "recommendation_id": [RecommendationFactory(user=investor).pk, RecommendationFactory(user=investor, symbol="NVDA").pk],
    }
    return investor, ids


@pytest.fixture
def api_schema(db, settings):  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    settings.AXES_ENABLED = False
    # Limits stay on, far above what the run sends, so the limiter's code runs and never refuses.
    settings.RATE_LIMITS = {name: "100000/m" for name in settings.RATE_LIMITS}
    # Requests go through the raw WSGI app, not Django's test client: like the test client, keep
    # the end of a request from closing the connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=SchemathesisConfig.from_dict(CONFIG))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_api_answers_generated_requests_without_5xx_or_schema_violations(api_schema, django_user_model):  # type: ignore[no-untyped-def]
    from knox.models import AuthToken

    investor, own_ids = seed_investor(django_user_model)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lost its operations"

    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case):  # type: ignore[no-untyped-def]
                # A fresh token per call: logout and password change legitimately end the previous one.
                _, token = AuthToken.objects.create(user=investor)
                positive = case.meta is not None and case.meta.generation.mode.is_positive
                if positive:
                    for name, value in (case.path_parameters or {}).items():
                        if name in own_ids and own_ids[name] and isinstance(value, int) and value % 2 == 0:
                            case.path_parameters[name] = own_ids[name][value // 2 % len(own_ids[name])]
                response = case.call_and_validate(headers={"Authorization": f"Token {token}"})
                problem = refused_as_malformed(case.operation.path, response) if positive else None
                assert problem is None, f"{problem}\n{case.as_curl_command()}"

            try:
                exercise()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid input to generate.
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
