"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation in ``/api/schema/`` is called with generated valid and invalid input as a signed-in
investor (token auth) who has cash, a position and recommendations, so generated requests reach the
logic behind the ids (``user_id`` is ``me`` or digits in the schema; valid requests use the investor's
own ids half of the time). Schemathesis' default checks run: a 5xx, a status code or header the
schema does not document, a response body that violates the schema, or invalid input that is accepted
(every body is a closed object, every decimal an exact pattern) fails the test. Only "schema-valid
input is accepted" is left out: rules the schema cannot express refuse valid shapes with a 400 (a
wrong password, a buy without the cash, an idempotency key in neither the header nor the body, a
backtest period without prices). The per-user API limit and the per-endpoint limits are raised far above the run's request
count (lockouts are lifted), so the fuzzer exercises the logic rather than the limiter; those are
tested on their own.

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

#: Per operation and generation mode; bounded so the whole run stays short (about a minute).
MAX_EXAMPLES = 20


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
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
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
                if case.meta is not None and case.meta.generation.mode.is_positive:
                    for name, value in (case.path_parameters or {}).items():
                        if name in own_ids and own_ids[name] and isinstance(value, int) and value % 2 == 0:
                            case.path_parameters[name] = own_ids[name][value // 2 % len(own_ids[name])]
                case.call_and_validate(
                    headers={"Authorization": f"Token {token}"},
                    excluded_checks=[positive_data_acceptance],
                )

            try:
                exercise()
            except Unsatisfiable:
                # An operation without parameters or body has no invalid input to generate.
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
