"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation in ``/api/schema/`` is called with generated valid and invalid input as a signed-in
investor (token auth). A 5xx, a status code the schema does not document, or a response body
that violates the schema fails the test, and so does invalid input that is accepted. Valid input
may still be refused by a business rule (a wrong password is schema-valid), so the
"schema-valid data must be accepted" check is left out. Rate limits and lockouts are lifted here (they are
tested on their own), so the fuzzer reaches the code behind them.

The operations are driven with schemathesis' hypothesis strategies directly: its pytest plugin
does not run under pytest 9 yet.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

#: Per operation and generation mode; bounded so the whole run stays short.
MAX_EXAMPLES = 20


@pytest.fixture
def api_schema(db, settings):  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    settings.AXES_ENABLED = False
    settings.RATELIMIT_ENABLE = False
    settings.RATE_LIMITS = {name: "100000/m" for name in settings.RATE_LIMITS}
    # Requests go through the raw WSGI app, not Django's test client: like the test client, keep
    # the end of a request from closing the connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_api_answers_generated_requests_without_5xx_or_schema_violations(api_schema, django_user_model):  # type: ignore[no-untyped-def]
    from knox.models import AuthToken

    investor = django_user_model.objects.create_user("fuzz-investor", email="fuzz@example.com", password="a-long-pass-phrase-1")
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
                case.call_and_validate(headers={"Authorization": f"Token {token}"}, excluded_checks=[positive_data_acceptance])

            try:
                exercise()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid input to generate.
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
            except Exception as exc:  # collect every operation's failure, then report them together
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
