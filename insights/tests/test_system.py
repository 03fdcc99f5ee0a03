"""The System page and ``/metrics``: figures equal what the rows say, the cost does not grow with the data,
only operators (or the metrics token) get in, and the output is valid Prometheus text."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from accounts.audit import audit_record
from accounts.factories import UserFactory
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from accounts.services import user_role_set
from accounts.testing import force_login_verified
from insights.system import system_metrics
from learning.factories import ModelVersionFactory
from learning.models import ModelKind, ModelStatus
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus

pytestmark = [pytest.mark.django_db]

SYSTEM_URL = "/system/"
METRICS_URL = "/metrics"
TOKEN = "s3cret-metrics-token-for-tests"


@pytest.fixture
def operator():
    return user_role_set(user=UserFactory(), role=Role.OPERATOR)


@pytest.fixture
def investor():
    return UserFactory()


def _signed_in_sessions(client_class, users) -> None:
    """Sign each user in and make one request, so the session middleware records a real ``UserSession``."""
    for user in users:
        browser = client_class()
        force_login_verified(browser, user)
        browser.get("/")


#: (action, status, recommended price, outcome price, direction correct) of evaluated rows.
EVALUATED = [
    ("BUY", RecommendationStatus.ACCEPTED, "100.00", "104.00", True),
    ("BUY", RecommendationStatus.REJECTED, "100.00", "97.00", False),
    ("SELL", RecommendationStatus.ACCEPTED, "50.00", "48.00", True),
    ("HOLD", RecommendationStatus.EXPIRED, "200.00", "201.00", True),
    ("BUY", RecommendationStatus.ACCEPTED, "10.00", "10.10", True),
]


def _recommendations(users) -> None:
    """Per user: the EVALUATED rows in turn, plus one pending and one rejected unevaluated row."""
    for i, user in enumerate(users):
        action, status, price, outcome, correct = EVALUATED[i % len(EVALUATED)]
        RecommendationFactory(
            user=user,
            symbol="AAPL",
            recommendation_type=action,
            status=status,
            user_accepted={RecommendationStatus.ACCEPTED: True, RecommendationStatus.REJECTED: False}.get(status),
            recommended_price=Decimal(price),
            outcome_evaluated=True,
            outcome_price=Decimal(outcome),
            direction_correct=correct,
        )
        RecommendationFactory(user=user, symbol="NVDA")
        RecommendationFactory(user=user, symbol="META", status=RecommendationStatus.REJECTED, user_accepted=False)


def _security_events(users) -> None:
    for user in users:
        audit_record(action=AuditAction.LOGIN_FAILED, details={"username": user.username})
        audit_record(action=AuditAction.LOCKOUT, details={"username": user.username})
        audit_record(action=AuditAction.RATE_LIMITED, actor=user, details={"path": "/api/x", "limit": "login"})
        audit_record(action=AuditAction.PERMISSION_DENIED, actor=user, details={"needed": "operator"})


def _world(client_class, n: int, *, models: bool = True):
    users = [UserFactory() for _ in range(n)]
    _signed_in_sessions(client_class, users)
    _recommendations(users)
    _security_events(users)
    if not models:
        return users
    ModelVersionFactory(kind=ModelKind.ENSEMBLE, status=ModelStatus.ACTIVE, metrics={"gate": {"auc": 0.61, "log_loss": 0.68}})
    ModelVersionFactory(kind=ModelKind.RANDOM_FOREST, status=ModelStatus.ACTIVE, metrics={"gate": {"auc": 0.55}})
    ModelVersionFactory(kind=ModelKind.ENSEMBLE, status=ModelStatus.RETIRED, metrics={"gate": {"auc": 0.99}})
    return users


# --- Figures ------------------------------------------------------------------------------------


def test_figures_match_the_rows(client):
    users = _world(type(client), 7)
    # The sign-ins above write no failures; every "failed login" comes from the audited events.
    m = system_metrics()

    assert m["sessions"]["active"] == 7
    assert m["security"]["failed_logins_24h"] == AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 7
    assert m["security"]["lockouts_24h"] == 7
    assert m["security"]["rate_limited_24h"] == 7
    assert m["security"]["permission_denied_24h"] == 7

    recs = m["recommendations"]
    assert recs["total"] == Recommendation.objects.count() == 21
    assert recs["pending"] == 7
    accepted = Recommendation.objects.filter(status=RecommendationStatus.ACCEPTED).count()
    rejected = Recommendation.objects.filter(status=RecommendationStatus.REJECTED).count()
    assert (recs["accepted"], recs["rejected"]) == (accepted, rejected)
    assert recs["acceptance_rate"] == pytest.approx(accepted / (accepted + rejected))

    # Every evaluated row is scored; each action's accuracy is its own right over its own scored rows.
    scored = Recommendation.objects.filter(outcome_evaluated=True)
    assert recs["evaluated"] == scored.count() == len(users)
    assert recs["accuracy"] == pytest.approx(scored.filter(direction_correct=True).count() / len(users))
    assert {a["action"]: (a["evaluated"], a["correct"]) for a in recs["by_action"]} == {
        action: (
            scored.filter(recommendation_type=action).count(),
            scored.filter(recommendation_type=action, direction_correct=True).count(),
        )
        for action in ("BUY", "SELL", "HOLD")
    }

    assert [(v["kind"], v["metrics"]) for v in m["learning"]] == [
        ("ensemble", {"auc": 0.61, "log_loss": 0.68}),
        ("rf", {"auc": 0.55}),
    ]
    assert m["queues"]["mode"] == "eager"


def test_accuracy_and_base_rate_by_hand():
    user = UserFactory()
    for symbol, (action, status, price, outcome, correct) in zip(
        ["AAPL", "AMZN", "GOOGL", "META", "NVDA"], EVALUATED, strict=True
    ):
        RecommendationFactory(
            user=user,
            symbol=symbol,
            recommendation_type=action,
            status=status,
            recommended_price=Decimal(price),
            outcome_evaluated=True,
            outcome_price=Decimal(outcome),
            direction_correct=correct,
        )
    recs = system_metrics()["recommendations"]
    # Moves: +4 %, -3 %, -4 %, +0.5 %, +1 %. Up 3/5, down 2/5, within ±2 %: 2/5.
    # Actions: 3 BUY, 1 SELL, 1 HOLD -> base = (3*0.6 + 1*0.4 + 1*0.4) / 5.
    assert recs["accuracy"] == pytest.approx(4 / 5)
    assert recs["base_rate"] == pytest.approx((3 * 0.6 + 0.4 + 0.4) / 5)
    # 3 accepted, 1 rejected; the expired one is no answer.
    assert recs["acceptance_rate"] == pytest.approx(3 / 4)


def test_empty_installation_has_no_rates():
    m = system_metrics()
    assert m["recommendations"]["accuracy"] is None
    assert m["recommendations"]["base_rate"] is None
    assert m["recommendations"]["acceptance_rate"] is None
    assert m["learning"] == []


def test_query_count_does_not_grow_with_users(client, django_assert_max_num_queries):
    _world(type(client), 2)
    with CaptureQueriesContext(connection) as few:
        small = system_metrics()
    # Read the count now: the requests below reset Django's query log, and captured_queries reads it lazily.
    budget = len(few.captured_queries)
    assert budget > 0
    Recommendation.objects.all().delete()
    _world(type(client), 20, models=False)
    with django_assert_max_num_queries(budget):
        big = system_metrics()
    assert big["sessions"]["active"] > small["sessions"]["active"]
    assert big["recommendations"]["total"] == 60


# --- The page -----------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.figures: dict[str, str] = {}
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.lower().startswith("on")]
        if tag == "script":
            self.scripts.append(attributes)
        self._figure = attributes.get("data-kpi") or attributes.get("data-figure")

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self.figures[self._figure] = data.strip()
            self._figure = None


def test_operators_see_the_page_with_the_figures(client, operator):
    _world(type(client), 3)
    force_login_verified(client, operator)
    response = client.get(SYSTEM_URL)
    assert response.status_code == 200
    page = _Page()
    page.feed(response.content.decode())
    # three users plus the operator's own session
    assert page.figures["active_sessions"] == "4"
    assert page.figures["failed_logins_24h"] == "3"
    assert page.figures["lockouts_24h"] == "3"
    assert "accounts.tasks.cleanup_security_records" in response.content.decode()
    assert all(script.get("src") for script in page.scripts), "inline scripts break the CSP"
    assert page.handlers == []


def test_the_page_and_metrics_show_a_failing_price_provider(client, operator, settings):
    from market.incidents import incident_record

    settings.METRICS_TOKEN = TOKEN
    incident_record(provider="alphavantage", symbol="AAPL", kind="timeout", message="read timed out")
    force_login_verified(client, operator)

    body = client.get(SYSTEM_URL).content.decode()

    assert "Failing: alphavantage." in body
    assert 'data-symbol="AAPL" data-kind="timeout"' in body
    families = _families(client.get(METRICS_URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content)
    [sample] = families["quantai_price_provider_open_incidents"]
    assert (sample.labels, sample.value) == ({"provider": "alphavantage", "kind": "timeout"}, 1)


def test_investors_are_refused_the_page_and_it_is_audited(client, investor):
    force_login_verified(client, investor)
    assert client.get(SYSTEM_URL).status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, actor=investor).exists()


def test_anonymous_visitors_go_to_sign_in(client):
    response = client.get(SYSTEM_URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- /metrics -----------------------------------------------------------------------------------


def _families(body: bytes) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(body.decode())}


def test_metrics_with_the_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    _world(type(client), 2)
    response = client.get(METRICS_URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = _families(response.content)
    assert families["quantai_active_sessions"][0].value == 2
    security = {s.labels["kind"]: s.value for s in families["quantai_security_events_24h"]}
    assert security == {"failed_logins": 2, "lockouts": 2, "rate_limited": 2, "permission_denied": 2}
    recs = system_metrics()["recommendations"]
    assert families["quantai_recommendation_acceptance_rate"][0].value == pytest.approx(recs["acceptance_rate"])
    assert families["quantai_recommendation_accuracy"][0].value == pytest.approx(recs["accuracy"])
    assert families["quantai_recommendation_base_rate"][0].value == pytest.approx(recs["base_rate"])
    models = {(s.labels["kind"], s.labels["metric"]): s.value for s in families["quantai_model_metric"]}
    assert models == {("ensemble", "auc"): 0.61, ("ensemble", "log_loss"): 0.68, ("rf", "auc"): 0.55}
    assert families["quantai_tasks_eager"][0].value == 1


def test_metrics_report_a_task_that_ran(client, settings):
    from accounts.tasks import cleanup_security_records

    settings.METRICS_TOKEN = TOKEN
    cleanup_security_records.apply_async(headers={"celery_beat_task": True})  # as beat sends it
    families = _families(client.get(METRICS_URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content)
    # the parser drops the _seconds unit suffix from the family name only for counters; gauges keep it
    samples = families["quantai_periodic_task_last_run_timestamp_seconds"]
    assert [(s.labels["entry"], s.labels["state"]) for s in samples] == [("accounts-cleanup-security", "SUCCESS")]


def test_metrics_with_a_wrong_token_is_401(client, settings, operator):
    settings.METRICS_TOKEN = TOKEN
    force_login_verified(client, operator)  # a session does not rescue a wrong token
    response = client.get(METRICS_URL, HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_empty_setting_disables_token_access(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(METRICS_URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get(METRICS_URL, HTTP_AUTHORIZATION="Bearer anything").status_code == 401


def test_metrics_for_an_operator_session(client, operator):
    force_login_verified(client, operator)
    response = client.get(METRICS_URL)
    assert response.status_code == 200
    assert "quantai_active_sessions" in _families(response.content)


def test_metrics_refuse_investors_and_anonymous(client, investor):
    anonymous = client.get(METRICS_URL)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    force_login_verified(client, investor)
    refused = client.get(METRICS_URL)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, actor=investor).exists()
