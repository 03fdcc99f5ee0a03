"""The operators' security dashboard: real events from the real sign-in, lockout and rate-limit code
show up with the right numbers, only operators get in, the page carries no inline script, and the
number of queries does not grow with the number of events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse
from freezegun import freeze_time

from accounts.audit import audit_record
from accounts.factories import DEFAULT_PASSWORD, UserFactory
from accounts.models import AuditAction, AuditEvent, UserSession
from accounts.roles import Role
from accounts.services import user_role_set
from accounts.testing import force_login_verified
from accounts.tests.conftest import api_login

pytestmark = pytest.mark.django_db

URL = "/security/"
SUMMARY_URL = "/api/auth/security/summary"
LOCK_LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _url_modules_imported() -> None:
    """Import every view module before a test freezes the clock: some import pandas, and importing
    pandas while freezegun has replaced ``datetime`` crashes the interpreter (segmentation fault)."""
    get_resolver().url_patterns  # noqa: B018 - the import is the point


class _PageParser(HTMLParser):
    """Collects every <script> tag's attributes, every on* attribute, the KPI values and the embedded JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.kpis: dict[str, str] = {}
        self.json_blocks: dict[str, str] = {}
        self._kpi: str | None = None
        self._json_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.lower().startswith("on")]
        if tag == "script":
            self.scripts.append(attributes)
            if attributes.get("type") == "application/json":
                self._json_id = attributes.get("id") or ""
                self.json_blocks[self._json_id] = ""
        if attributes.get("data-kpi"):
            self._kpi = attributes["data-kpi"]

    def handle_data(self, data: str) -> None:
        if self._kpi is not None:
            self.kpis[self._kpi] = data.strip()
            self._kpi = None
        if self._json_id is not None:
            self.json_blocks[self._json_id] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._json_id = None


def _parse(response) -> _PageParser:  # type: ignore[no-untyped-def]
    parser = _PageParser()
    parser.feed(response.content.decode())
    return parser


def _operator():  # type: ignore[no-untyped-def]
    return user_role_set(user=UserFactory(username="op", email="op@example.com"), role=Role.OPERATOR)


@pytest.fixture
def operator_client(client):  # type: ignore[no-untyped-def]
    force_login_verified(client, _operator())
    return client


def _fail_logins(api, username: str, ip: str, times: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [api_login(api, username, "not the password 123", REMOTE_ADDR=ip).status_code for _ in range(times)]


@freeze_time("2026-03-10 12:10:00", tick=True)  # well inside one clock hour, so every event lands in the last bucket
def test_operator_sees_failed_logins_lockouts_rate_limits_and_sessions_from_real_requests(api, client, settings):
    force_login_verified(client, _operator())
    victim = UserFactory(username="victim")
    other = UserFactory(username="other")
    # Three wrong passwords for one account: failures, no lockout.
    assert _fail_logins(api, other.username, "203.0.113.1", 3) == [400] * 3
    # The failure limit for another account from another address: a lockout, then one refused attempt.
    statuses = _fail_logins(api, victim.username, "203.0.113.2", LOCK_LIMIT + 1)
    assert statuses[-2:] == [429, 429]
    failed, lockouts = 3 + LOCK_LIMIT + 1, 1
    # One sign-in over the rate limit: it never reaches the password check, so it is no failed sign-in.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1/m"}
    assert _fail_logins(api, "nobody", "203.0.113.3", 2) == [400, 429]
    failed += 1
    # A browser signed in through the real sign-in endpoint (the limit is per address).
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "10/m"}
    browser = UserFactory(username="browsing")
    assert (
        api_login(api, browser.username, DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="SecDash/1.0").status_code
        == 200
    )

    response = client.get(URL)

    assert response.status_code == 200
    page = _parse(response)
    assert page.kpis["failed_logins_24h"] == str(failed)
    assert page.kpis["lockouts_24h"] == str(lockouts)
    assert page.kpis["rate_limited_24h"] == "1"
    assert page.kpis["locked_out_now"] == "1"
    data = json.loads(page.json_blocks["security-data"])
    assert data["totals"]["failed_logins_24h"] == failed
    assert sum(data["hourly"]["failed_logins"]) == failed and sum(data["hourly"]["lockouts"]) == lockouts
    assert data["hourly"]["failed_logins"][-1] == failed  # all in the current hour
    assert data["daily"]["failed_logins"][-1] == failed and data["daily"]["lockouts"][-1] == lockouts
    assert data["rate_limits"] == [{"path": "/api/auth/login", "limit": "login", "last_24h": 1, "last_30d": 1}]

    html = response.content.decode()
    # Active sessions: the browser signed in above (and the operator's own) with address and user agent.
    assert page.kpis["active_sessions"] == str(UserSession.objects.count()) == "2"
    assert "browsing" in html and "198.51.100.7" in html and "SecDash/1.0" in html
    # Recent audit events, newest first: the sign-in, then the rate-limit refusal.
    events = response.context["events"]
    assert [(e.action, e.actor_username) for e in list(events)[:2]] == [
        (AuditAction.LOGIN, "browsing"),
        (AuditAction.RATE_LIMITED, ""),
    ]
    assert "Locked out" in html and "Sign-in failed" in html


def test_summary_endpoint_counts_events_per_hour_and_per_day(api, client):
    operator = _operator()
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    # (hours before now, failed sign-ins); each batch from its own address, under the failure limit.
    batches = [(0, 3), (2, 2), (30, 1), (3 * 24, 4), (40 * 24, 1)]
    for n, (hours_ago, count) in enumerate(batches):
        with freeze_time(now - timedelta(hours=hours_ago)):
            _fail_logins(api, f"target{n}", f"192.0.2.{n + 1}", count)

    with freeze_time(now):
        force_login_verified(client, operator)
        body = client.get(SUMMARY_URL).json()

    hourly, daily = body["hourly"], body["daily"]
    assert len(hourly["labels"]) == 24 and len(daily["labels"]) == 30
    assert datetime.fromisoformat(hourly["labels"][-1]) == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert datetime.fromisoformat(hourly["labels"][0]) == datetime(2026, 3, 9, 13, tzinfo=UTC)
    expected_hourly = [0] * 24
    expected_hourly[23], expected_hourly[21] = 3, 2  # 12:00 and 10:00; 30 h ago is outside
    assert hourly["failed_logins"] == expected_hourly
    assert daily["labels"][-1] == "2026-03-10" and daily["labels"][0] == "2026-02-09"
    expected_daily = [0] * 30
    expected_daily[29] = 3 + 2  # today
    expected_daily[28] = 1  # 30 h ago is yesterday, 06:30
    expected_daily[26] = 4  # three days ago; 40 days ago is outside
    assert daily["failed_logins"] == expected_daily
    assert hourly["lockouts"] == [0] * 24 and daily["lockouts"] == [0] * 30
    assert body["totals"]["failed_logins_24h"] == 5


def test_lockouts_are_counted_in_the_hour_they_happened(api, client):
    operator = UserFactory(is_superuser=True, is_staff=True)
    now = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
    with freeze_time(now - timedelta(hours=5)):
        _fail_logins(api, UserFactory().username, "192.0.2.50", LOCK_LIMIT)
    with freeze_time(now):
        force_login_verified(client, operator)
        body = client.get(SUMMARY_URL).json()
    assert body["hourly"]["lockouts"][23 - 5] == 1 and sum(body["hourly"]["lockouts"]) == 1
    assert body["hourly"]["failed_logins"][23 - 5] == LOCK_LIMIT


@pytest.mark.parametrize("role", [Role.INVESTOR, Role.ANALYST])
def test_investors_and_analysts_are_refused_and_the_refusal_is_audited(client, role):
    user = user_role_set(user=UserFactory(), role=role)
    force_login_verified(client, user)
    assert client.get(URL).status_code == 403
    refusal = AuditEvent.objects.get(action=AuditAction.PERMISSION_DENIED)
    assert refusal.actor == user and refusal.details["path"] == URL
    assert client.get(SUMMARY_URL).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(SUMMARY_URL).status_code == 401
    assert not AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).exists()


def test_administrators_get_in(client):
    force_login_verified(client, UserFactory(is_superuser=True))
    assert client.get(URL).status_code == 200


def test_page_has_no_inline_script_and_a_strict_script_policy(operator_client):
    response = operator_client.get(URL)
    page = _parse(response)
    assert page.scripts, "the page loads its chart scripts"
    for attrs in page.scripts:
        assert attrs.get("src") or attrs.get("type") == "application/json", attrs
    sources = [a["src"] for a in page.scripts if a.get("src")]
    assert any("vendor/chart-4.6.1.umd.min.js" in s for s in sources)
    assert any("js/security_dashboard.js" in s for s in sources)
    assert all(s.startswith(settings.STATIC_URL) or s.startswith("/" + settings.STATIC_URL) for s in sources)
    assert not page.handlers
    policy = response["Content-Security-Policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    assert "no-store" in response["Cache-Control"]


def test_what_users_typed_is_escaped(api, operator_client):
    UserSession.objects.create(user=UserFactory(), session_key="k" * 32, ip="192.0.2.9", user_agent="<script>alert(1)</script>")
    _fail_logins(api, "<b>bold</b>", "192.0.2.10", 1)
    html = operator_client.get(URL).content.decode()
    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_audit_log_is_paged_and_filtered_by_action(operator_client):
    before = AuditEvent.objects.count()
    for n in range(60):
        audit_record(action=AuditAction.LOGIN_FAILED, details={"username": f"u{n}"})
    audit_record(action=AuditAction.RATE_LIMITED, details={"limit": "login", "path": "/login/"})
    first = operator_client.get(URL).context["events"]
    assert len(first) == 50 and first.paginator.count == before + 61 and first[0].action == AuditAction.RATE_LIMITED
    second = operator_client.get(URL, {"page": 2}).context["events"]
    assert len(second) == before + 11
    only = operator_client.get(URL, {"action": "rate_limited"}).context["events"]
    assert [e.action for e in only] == [AuditAction.RATE_LIMITED]
    # An unknown action is ignored rather than an error.
    assert operator_client.get(URL, {"action": "nonsense", "page": "x"}).status_code == 200


def _seed(n: int, *, now: datetime, batch: str) -> None:
    """n events of every charted kind spread over 30 days, from n addresses and n endpoints, and n sessions."""
    events = []
    for i in range(n):
        at = now - timedelta(hours=i * 7 % (29 * 24))  # inside the 30 calendar days
        for action, details in (
            (AuditAction.LOGIN_FAILED, {"username": f"user{i}"}),
            (AuditAction.LOCKOUT, {"username": f"user{i}", "failures": 5}),
            (AuditAction.RATE_LIMITED, {"limit": "api_user", "path": f"/api/thing/{i}"}),
        ):
            events.append(AuditEvent(action=action, ip=f"10.0.{i // 250}.{i % 250}", created_at=at, details=details))
    AuditEvent.objects.bulk_create(events)
    users = UserFactory.create_batch(n)
    UserSession.objects.bulk_create(
        UserSession(user=u, session_key=f"seed-{batch}-{i}", ip="10.1.0.1", user_agent="seed", last_seen=now)
        for i, u in enumerate(users)
    )


def test_queries_do_not_grow_with_the_number_of_events(operator_client, django_assert_max_num_queries):
    from django.utils import timezone

    now = timezone.now()
    _seed(3, now=now, batch="a")
    operator_client.get(URL)  # the first request of a session records its activity; measure the next
    with CaptureQueriesContext(connection) as few:
        assert operator_client.get(URL).status_code == 200
    _seed(300, now=now, batch="b")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = operator_client.get(URL)
    assert response.status_code == 200
    page = _parse(response)
    assert page.kpis["active_sessions"] == str(303 + 1)
    assert len(response.context["sessions"]) == 50
    data = json.loads(page.json_blocks["security-data"])
    assert sum(data["daily"]["lockouts"]) == 303
    assert len(data["rate_limits"]) == 20


def test_summary_endpoint_answers_operators_in_constant_queries(client, django_assert_max_num_queries):
    from django.utils import timezone

    force_login_verified(client, _operator())
    _seed(2, now=timezone.now(), batch="a")
    client.get(SUMMARY_URL)
    with CaptureQueriesContext(connection) as few:
        client.get(SUMMARY_URL)
    _seed(200, now=timezone.now(), batch="b")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(SUMMARY_URL).json()
    assert body["totals"]["lockouts_24h"] == sum(body["hourly"]["lockouts"])
