"""The ``load`` benchmark's pure parts: the mix, the data file, per-endpoint figures, the services check,
seeding at tiny scale, and the wrk driver's plumbing against a stub server (10 requests, not a load test).

Nothing here asserts a duration: benchmarks print figures, tests check behaviour.
"""

from __future__ import annotations

import itertools
import random
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from benchmarks.load import infra
from benchmarks.load.mix import (
    MIX,
    LoadUser,
    RunPlan,
    Sample,
    client_ip,
    mix_schedule,
    one_use_needs,
    parse_samples,
    summarise,
    table_lines,
    thread_endpoints,
    write_data_file,
)
from benchmarks.registry import SectionSkipped
from benchmarks.support import percentile

# --- the mix -----------------------------------------------------------------------------------------


def test_schedule_holds_each_endpoint_as_often_as_its_weight_and_spreads_them():
    schedule = mix_schedule(MIX)
    assert Counter(schedule) == Counter(MIX)
    # Spread evenly: the 20-25 % endpoints never come twice in a row.
    for name in ("dashboard", "api_me", "recommendations"):
        assert all(not (a == b == name) for a, b in itertools.pairwise(schedule))


def test_schedule_refuses_weights_without_a_positive_sum():
    with pytest.raises(ValueError):
        mix_schedule({"a": 0})
    with pytest.raises(ValueError):
        mix_schedule({"a": 2, "b": -1})


def test_every_user_gets_a_distinct_benchmark_address():
    addresses = [client_ip(i) for i in range(1000)]
    assert len(set(addresses)) == 1000
    assert all(ip_address(a) in ip_network("198.18.0.0/15") for a in addresses)
    with pytest.raises(ValueError):
        client_ip(-1)


def test_each_thread_starts_the_schedule_at_its_own_offset_and_wraps_around():
    schedule = ["a", "b", "c"]
    assert thread_endpoints(schedule, 1, 4) == ["a", "b", "c", "a"]
    assert thread_endpoints(schedule, 2, 2) == ["b", "c"]  # offset 7 % 3 = 1


def test_one_use_needs_count_the_answers_and_sign_ins_of_each_threads_share():
    schedule = mix_schedule(MIX)
    needs = one_use_needs(schedule, 16, 63)
    assert set(needs) == set(range(1, 17))
    total = sum(needs.values(), Counter())
    assert set(total) == {"respond", "login"}
    # Each thread sends 63 of the 100-long cycle: about the weights' share of 16 x 63 requests.
    assert abs(total["respond"] - 16 * 63 * MIX["respond"] / 100) <= 16
    assert abs(total["login"] - 16 * 63 * MIX["login"] / 100) <= 16


def _plan() -> RunPlan:
    users = [LoadUser("u0", "tok0", "sess0", "198.18.0.1"), LoadUser("u1", "tok1", "", "198.18.0.2")]
    return RunPlan(
        users=users,
        answers=[(1, 1, 42, True), (2, 0, 43, False)],
        logins=[(1, "u1", "198.18.0.2"), (2, "u0", "198.18.0.1")],
    )


def test_data_file_lists_users_answers_and_sign_ins_with_lua_indexes(tmp_path):
    path = tmp_path / "mix.tsv"
    write_data_file(
        path, _plan(), host="127.0.0.1:8000", session_cookie="sid", csrf_cookie="csrf", password="pw",
        csrf_secret="s" * 32, schedule=["api_me", "respond"],
    )  # fmt: skip
    lines = path.read_text().splitlines()
    assert "H\t127.0.0.1:8000" in lines
    assert "U\t198.18.0.2\ttok1\t-" in lines  # no page session: "-"
    assert "R\t1\t2\t42\t1" in lines  # thread 1; user index 1 -> Lua's 2
    assert "R\t2\t1\t43\t0" in lines
    assert "L\t1\tu1\t198.18.0.2" in lines
    assert [line for line in lines if line.startswith("S\t")] == ["S\tapi_me", "S\trespond"]


def test_data_file_refuses_values_that_would_break_a_line_or_a_form(tmp_path):
    with pytest.raises(ValueError):
        write_data_file(
            tmp_path / "x.tsv", _plan(), host="h", session_cookie="sid", csrf_cookie="c", password="a b&c",
            csrf_secret="s", schedule=["api_me"],
        )  # fmt: skip


# --- figures -----------------------------------------------------------------------------------------


def _samples() -> list[Sample]:
    rng = random.Random(3)
    samples, t = [], 1_000_000
    for n in range(200):
        endpoint = ["api_me", "dashboard", "login"][n % 3]
        status = {"api_me": 200, "dashboard": 200 if n % 2 else 302, "login": 302 if n % 5 else 200}[endpoint]
        latency = rng.randint(1_000, 900_000)
        samples.append(Sample(endpoint, status, t, t + latency))
        t += 10_000
    return samples


def test_summary_gives_each_endpoint_its_percentiles_errors_and_share_of_the_rate():
    samples = _samples()
    stats = {s.endpoint: s for s in summarise(samples)}
    assert list(stats) == ["dashboard", "api_me", "login", "all"]  # mix order, then the total
    api = [s for s in samples if s.endpoint == "api_me"]
    assert stats["api_me"].requests == len(api)
    assert stats["api_me"].p95_ms == pytest.approx(percentile([s.latency_s for s in api], 95) * 1000)
    assert stats["api_me"].errors == 0
    # A page that redirects lost its session; a sign-in that answers 200 showed the form again.
    assert stats["dashboard"].errors == sum(1 for s in samples if s.endpoint == "dashboard" and s.status == 302)
    assert stats["login"].errors == sum(1 for s in samples if s.endpoint == "login" and s.status == 200)
    elapsed = (max(s.end_us for s in samples) - min(s.start_us for s in samples)) / 1e6
    assert stats["all"].requests_per_s == pytest.approx(200 / elapsed)
    assert sum(stats[name].requests_per_s for name in ("dashboard", "api_me", "login")) == pytest.approx(200 / elapsed)
    assert summarise([]) == []


def test_samples_round_trip_through_the_scripts_line_format():
    text = "api_me\t200\t100\t350\nlogin\t302\t120.0\t900\n\n"
    assert parse_samples(text) == [Sample("api_me", 200, 100, 350), Sample("login", 302, 120, 900)]


def test_table_aligns_columns_and_marks_a_p95_over_the_target():
    stats = summarise(_samples())
    lines = table_lines([("c=16", s) for s in stats], target_ms=500)
    assert lines[0].split() == [
        "run",
        "endpoint",
        "requests",
        "req/s",
        "p50",
        "ms",
        "p95",
        "ms",
        "p99",
        "ms",
        "max",
        "ms",
        "errors",
    ]
    assert len({len(line) for line in lines}) == 1
    over = [s for s in stats if s.p95_ms > 500]
    assert over and sum("!" in line for line in lines) == len(over)


# --- the services check ------------------------------------------------------------------------------


def test_section_refuses_sqlite_and_a_missing_redis_with_what_to_set():
    with pytest.raises(SectionSkipped, match="MariaDB/MySQL and Redis"):
        infra.mariadb_server({"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}, "qa_load")
    with pytest.raises(SectionSkipped, match="REDIS_URL is not set"):
        infra.redis_url("", 9)


def test_section_never_takes_the_configured_database_for_its_own():
    with pytest.raises(SectionSkipped, match="configured database itself"):
        infra.mariadb_server({"ENGINE": "django.db.backends.mysql", "NAME": "qa_load"}, "qa_load")


def test_section_uses_its_own_database_and_redis_db_on_the_configured_servers():
    server = infra.mariadb_server(
        {"ENGINE": "django.db.backends.mysql", "NAME": "quantai", "HOST": "db", "PORT": "3307", "USER": "q", "PASSWORD": "p@ss"},
        "qa_load",
    )
    assert server.url == "mysql://q:p%40ss@db:3307/qa_load"
    assert "p@ss" not in server.safe_url
    assert infra.redis_url("redis://:pw@cache:6380/0", 9) == "redis://:pw@cache:6380/9"


def test_stack_environment_is_production_with_test_overrides_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "1000/s")
    monkeypatch.setenv("CELERY_TASK_ALWAYS_EAGER", "true")
    server = infra.DatabaseServer("127.0.0.1", 3306, "root", "", "qa_load")
    env = infra.stack_env(server, "redis://127.0.0.1:6379/9", tmp_path)
    assert env["DJANGO_SETTINGS_MODULE"] == "benchmarks.load.settings"
    assert env["RATE_LIMIT_LOGIN"] is None and env["CELERY_TASK_ALWAYS_EAGER"] is None
    assert str(env["DATABASE_URL"]).endswith("/qa_load") and str(env["REDIS_URL"]).endswith("/9")


def test_benchmark_urls_add_the_bare_endpoint_to_the_products():
    from django.urls import Resolver404, resolve

    from benchmarks.load import urls
    from quantai import urls as product_urls

    assert len(urls.urlpatterns) == len(product_urls.urlpatterns) + 1
    match = resolve("/__bench__/bare", urlconf="benchmarks.load.urls")
    assert getattr(match.func, "view_class", None) is urls.BareView
    with pytest.raises(Resolver404):  # the product never serves it
        resolve("/__bench__/bare")


# --- seeding -----------------------------------------------------------------------------------------


def _rec_days():
    from datetime import date

    from benchmarks.load.seed import rec_days

    return rec_days(date(2024, 6, 3), 12)


def test_pending_recommendations_are_ones_the_ledger_would_accept():
    from benchmarks.load.seed import recommendation_rows

    days = _rec_days()
    closes = {s: Decimal("100.00") for s in ("AAPL", "AMZN", "GOOGL", "META", "NVDA")}
    rows = recommendation_rows(
        user_id=1, days=days, closes=closes, cash=Decimal("450.00"), held={"NVDA": Decimal("3")}, rng=random.Random(1)
    )
    assert len(rows) == 5 * len(days)
    pending = [r for r in rows if r.status == "pending"]
    assert {r.trading_date for r in pending} == {days[-1].trading_date} and len(pending) == 5
    buys = [r for r in pending if r.trade_side == "BUY"]
    assert sum(2 * r.recommended_price * r.recommended_shares for r in buys) <= Decimal("450.00")
    assert all(r.symbol == "NVDA" and r.recommended_shares == 1 for r in pending if r.trade_side == "SELL")
    assert all(r.recommended_shares == 0 for r in pending if r.trade_side == "")
    answered = [r for r in rows if r.status != "pending"]
    assert all(
        r.outcome_evaluated == (day.evaluate_on <= days[-1].trading_date)
        for r in answered
        for day in days
        if day.trading_date == r.trading_date
    )
    assert all(r.user_accepted is None for r in answered if r.status == "expired")


@pytest.mark.django_db
def test_seeding_at_tiny_scale_gives_clean_ledgers_and_answerable_recommendations():
    from benchmarks.load.seed import seed
    from portfolios.models import CashAccount, Position, Trade
    from portfolios.selectors import user_ledger_problems
    from recommendations.models import Recommendation
    from recommendations.services import recommendation_respond

    result = seed(users=3, trades=30, recommendations=45, session_users=2, prices_dir=None)
    assert (result["users"], result["trades"], result["recommendations"]) == (3, 30, 45)
    credentials = result["credentials"]
    assert [bool(u["session"]) for u in credentials["users"]] == [True, True, False]
    assert len(credentials["pending"]) == result["pending"] == 15
    from accounts.models import User

    for user in User.objects.filter(username__startswith="load"):
        trades = list(Trade.objects.filter(user=user).order_by("id"))
        assert not user_ledger_problems(
            trades=trades, cash=CashAccount.objects.get(user=user), positions=list(Position.objects.filter(user=user))
        )
    # Every pending one can be accepted (the load's respond requests): the ledger allows each trade.
    for item in credentials["pending"]:
        user = User.objects.get(username=item["username"])
        recommendation_respond(user=user, recommendation_id=item["id"], accept=True)
    assert Recommendation.objects.filter(status="pending").count() == 0
    for user in User.objects.filter(username__startswith="load"):
        trades = list(Trade.objects.filter(user=user).order_by("id"))
        assert not user_ledger_problems(
            trades=trades, cash=CashAccount.objects.get(user=user), positions=list(Position.objects.filter(user=user))
        )


# --- the wrk driver's plumbing (a stub server, ten requests) -------------------------------------------


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append((self.command, self.path, body))
        status = 302 if self.path == "/login/" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (Debian package 'wrk')")
def test_wrk_driver_sends_exactly_its_share_and_records_each_endpoint(stub_server, tmp_path):
    from benchmarks.load.wrk import run_wrk

    path = Path(tmp_path) / "mix.tsv"
    write_data_file(
        path, _plan(), host=stub_server.removeprefix("http://"), session_cookie="sid", csrf_cookie="csrf", password="pw",
        csrf_secret="s" * 32, schedule=["respond", "login", "api_me", "dashboard", "analytics"],
    )  # fmt: skip
    schedule = ["respond", "login", "api_me", "dashboard", "analytics"]
    assert one_use_needs(schedule, 2, 5) == {1: Counter(respond=1, login=1), 2: Counter(respond=1, login=1)}
    run = run_wrk(stub_server, path, clients=2, per_client=5, budget_s=20)
    assert len(run.samples) == 10 and not run.stopped_by_deadline
    # Each thread sent exactly its share of the schedule (the dealt answers and sign-ins included).
    expected = Counter(thread_endpoints(schedule, 1, 5) + thread_endpoints(schedule, 2, 5))
    assert Counter(s.endpoint for s in run.samples) == expected
    assert all(s.status == (302 if s.endpoint == "login" else 200) for s in run.samples)
    posts = {path: body for method, path, body in _Stub.seen if method == "POST"}
    assert posts["/api/portfolio/me/recommendations/42/respond"] == '{"accept": true}'
    assert posts["/api/portfolio/me/recommendations/43/respond"] == '{"accept": false}'
    sign_ins = sorted(body for method, path, body in _Stub.seen if path == "/login/")
    assert [body.split("&")[0] for body in sign_ins] == ["username=u0", "username=u1"]
    assert all(body.endswith("&password=pw&csrfmiddlewaretoken=" + "s" * 32) for body in sign_ins)


def test_targets_note_names_each_product_endpoint_over_the_latency_target_and_the_memory_verdict():
    from benchmarks.load.figures import add_targets_note
    from benchmarks.registry import SectionResult

    slow = summarise([Sample("api_me", 200, 0, 900_000), Sample("bare", 200, 0, 800_000), Sample("respond", 200, 0, 100_000)])
    result = SectionResult()
    rss = {"web worker 1": 85.0, "web worker 2": 95.0, "celery beat": 300.0}
    add_targets_note(result, [("c=16", s) for s in slow], rss, {"web worker 1": 250.0, "celery beat": 160.0})
    latency, mix_p95, share, pss, web = result.notes
    assert "c=16 api_me p95 900 ms" in latency
    assert "bare" not in latency and "respond" not in latency  # the bare endpoint is a yardstick, not the product
    assert mix_p95.startswith("target mix p95 < 150 ms at c=16") and mix_p95.endswith("(MISSED)")
    rows = {stats.endpoint: stats for stats in slow}
    expected = rows["all"].requests_per_s / rows["bare"].requests_per_s
    assert f"c=16 {expected:.1%} ({'met' if expected >= 0.25 else 'MISSED'})" in share
    assert "410 MiB (MISSED)" in pss
    assert "web worker 1 85 MiB (met)" in web and "web worker 2 95 MiB (MISSED)" in web and "beat" not in web


def test_the_stack_serves_http_with_either_server_as_compose_starts_them(tmp_path):
    from benchmarks.load.stack import Stack

    gunicorn = Stack({}, tmp_path)
    command = gunicorn.web_command()
    assert command[:2] == ["gunicorn", "quantai.wsgi:application"]
    assert command[command.index("--worker-class") + 1] == "gthread"
    assert command[command.index("--threads") + 1] == "8"
    # Django reads the client from the proxy header, and each long-lived thread keeps its database connection.
    assert gunicorn.web_env() == {"AXES_IPWARE_PROXY_COUNT": "1", "CONN_MAX_AGE": "60"}
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert 'CONN_MAX_AGE: "60"' in compose.split("\n  web:", 1)[1].split("\n  ws:", 1)[0]

    uvicorn = Stack({}, tmp_path, server="uvicorn")
    assert uvicorn.web_command()[:2] == ["uvicorn", "quantai.asgi:application"]
    assert "--proxy-headers" in uvicorn.web_command() and uvicorn.web_env() == {}

    with pytest.raises(ValueError, match="unknown web server"):
        Stack({}, tmp_path, server="waitress")


def test_cpu_use_splits_the_machines_busy_time_between_the_stack_the_servers_wrk_and_everything_else():
    from benchmarks.load.cpu import CpuSnapshot, stack_group, used

    before = CpuSnapshot(at=10.0, groups={"web": 5.0, "MariaDB": 1.0}, machine_busy=100.0, wrk=0.5, driver=2.0)
    after = CpuSnapshot(at=20.0, groups={"web": 12.0, "MariaDB": 4.0}, machine_busy=116.0, wrk=1.5, driver=2.5)

    use = used(before, after, cores=2)

    assert use.capacity_s == 20.0
    assert use.by_group == {"web": 7.0, "MariaDB": 3.0, "wrk": 1.0, "driver": 0.5, "everything else": 4.5, "idle": 4.0}
    assert "web 35.0 ms per request" in use.line("c=16 mix", 200)
    assert [stack_group(label) for label in ("web worker 1", "celery pool child 2", "celery beat")] == [
        "web",
        "celery worker",
        "beat",
    ]
