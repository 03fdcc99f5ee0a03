"""``GET /api/learning/performance`` answers what its published schema says, with a ``live`` block in it.

The API fuzzer (``quantai/tests/test_api_fuzz.py``) signs in as an investor, who gets a 403 here; this calls the
operation as an analyst, with recommendations made under a registered model and without one, scored and not,
and has schemathesis check the 200 body against the OpenAPI schema (every field typed, required and nullable as
published, the live block's components the stats API's).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from learning.tests.helpers import analyst_user
from portfolios.factories import funded_investor
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus

pytestmark = [pytest.mark.django_db]

PERFORMANCE = "/api/learning/performance"


@pytest.fixture
def api_schema(db):  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # Requests go through the raw WSGI app: keep the end of a request from closing the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=SchemathesisConfig())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _analyst_with_two_step():
    """An analyst whose account has two-step sign-in on: staff endpoints refuse API tokens of accounts without it."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    analyst = analyst_user(username="analyst")
    TOTPDevice.objects.create(user=analyst, name="phone", confirmed=True)
    return analyst


def _recommendations() -> None:
    investor = funded_investor("1000.00")
    for day, (action, outcome, correct, version) in enumerate(
        [("BUY", "105.00", True, 7), ("SELL", "103.00", False, 7), ("HOLD", "100.50", True, None), ("BUY", None, None, None)],
        start=1,
    ):
        RecommendationFactory(
            user=investor,
            recommendation_type=action,
            trade_side="" if action == "HOLD" else action,
            status=RecommendationStatus.REJECTED if outcome else RecommendationStatus.PENDING,
            user_accepted=False if outcome else None,
            outcome_evaluated=outcome is not None,
            outcome_price=Decimal(outcome) if outcome else None,
            direction_correct=correct,
            model_version_id=version,
            trading_date=date(2024, 5, day),
        )


def test_the_performance_body_with_its_live_block_matches_the_published_schema(api_schema):  # type: ignore[no-untyped-def]
    from knox.models import AuthToken

    _recommendations()
    _, token = AuthToken.objects.create(user=_analyst_with_two_step())
    operation = api_schema[PERFORMANCE]["GET"]

    response = operation.Case().call(headers={"Authorization": f"Token {token}"})

    assert response.status_code == 200
    live = response.json()["live"]
    assert live["total"] == 4 and live["evaluated"] == 3 and len(live["by_action"]) == 3
    assert {g["model_version_id"] for g in live["by_model_version"]} == {7, None}
    operation.validate_response(response)  # raises on any field the schema does not allow


def test_a_live_block_without_a_published_field_would_be_refused(api_schema):  # type: ignore[no-untyped-def]
    """The check above can fail: the same body with a version's ``model_version_id`` dropped violates the schema."""
    from knox.models import AuthToken
    from schemathesis.core.transport import Response

    _recommendations()
    _, token = AuthToken.objects.create(user=_analyst_with_two_step())
    operation = api_schema[PERFORMANCE]["GET"]
    response = operation.Case().call(headers={"Authorization": f"Token {token}"})
    body = response.json()
    del body["live"]["by_model_version"][0]["model_version_id"]
    broken = Response(
        status_code=200,
        headers=response.headers,
        content=json.dumps(body).encode(),
        request=response.request,
        elapsed=0.0,
        verify=False,
    )

    with pytest.raises(Exception, match="Response violates schema"):
        operation.validate_response(broken)
