"""The production deployment files agree with the code they run.

No Docker engine is needed. ``docker-compose.yml`` is validated against the Compose Specification
schema (vendored in ``data/``); every command is checked against the real entry points, queues,
management commands and command-line options; nginx's upstream against the compose services; the
Dockerfile against the files it copies; and the web service's own command is started to answer
its own health check. Production settings are loaded in subprocesses with a clean environment,
as a container would load them.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from fnmatch import fnmatch
from importlib import import_module
from pathlib import Path
from typing import Any

import environ
import jsonschema
import pytest
import yaml

from quantai.tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
SCHEMA_FILE = Path(__file__).parent / "data" / "compose-spec.json"
#: Guards the vendored schema against accidental edits (see data/README.md to update it).
COMPOSE_SCHEMA_SHA256 = "bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735"
PRODUCTION = "quantai.settings.production"

EXPECTED_SERVICES = {"db", "redis", "migrate", "web", "ws", "nginx", "worker", "worker-ml", "beat"}
#: Services that run QuantAI code and so need the production environment.
APP_SERVICES = ("migrate", "web", "ws", "worker", "worker-ml", "beat")
#: Files the image cannot run without; .dockerignore must not drop them from the build context.
IMAGE_ESSENTIALS = (
    "manage.py",
    "quantai/asgi.py",
    "quantai/celery.py",
    "quantai/settings/production.py",
    "requirements/production.txt",
    "requirements/ml.txt",
    "static/css/quantai.css",
    "templates/base.html",
    "deploy/healthcheck.py",
)


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    raw = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == COMPOSE_SCHEMA_SHA256, "data/compose-spec.json changed; see data/README.md"
    return json.loads(raw)


def _schema_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    # The schema declares draft-07 (with an https $schema URI that jsonschema does not map itself).
    assert "draft-07" in schema["$schema"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _option_value(command: list[str], *names: str) -> str | None:
    for index, token in enumerate(command):
        for name in names:
            if token == name and index + 1 < len(command):
                return command[index + 1]
            if token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _options(command: list[str]) -> list[str]:
    return [token.split("=", 1)[0] for token in command if token.startswith("-")]


def _click_options(*commands: Any) -> set[str]:
    return {opt for command in commands for param in command.params for opt in param.opts}


def _interpolated(value: str) -> str:
    """``${VAR:?message}`` / ``${VAR:-default}`` -> a stand-in value, as compose would substitute."""
    return re.sub(r"\$\{[^}]*\}", "placeholder", value)


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh container: production settings and nothing from this shell."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": PRODUCTION,
        "QUANTAI_VAR_DIR": str(tmp_path / "var"),
    }
    env.update(extra)
    return env


def _secret_key() -> str:
    return secrets.token_urlsafe(64)[:50]


def _blocks(text: str, header: str) -> list[str]:
    """The bodies of every ``header { ... }`` block in an nginx config (comments removed first)."""
    bodies = []
    for start in re.finditer(header + r"\s*\{", text):
        depth, index = 1, start.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        bodies.append(text[start.end() : index - 1])
    assert bodies, f"no block {header!r} in nginx.conf"
    return bodies


def _nginx_text() -> str:
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerignored(path: str) -> bool:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith(("#", "!"))
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        for prefix in prefixes:
            if fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch(prefix, pattern[3:])):
                return True
    return False


# --- compose file ----------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(compose, compose_schema):
    errors = _schema_errors(compose, compose_schema)

    assert errors == []


def test_schema_check_rejects_a_misspelt_key_and_an_unknown_dependency_condition(compose, compose_schema):
    broken = copy.deepcopy(compose)
    broken["services"]["web"]["healthchek"] = broken["services"]["web"].pop("healthcheck")
    broken["services"]["worker"]["depends_on"]["db"]["condition"] = "service_ready"

    errors = "\n".join(_schema_errors(broken, compose_schema))

    assert "healthchek" in errors
    assert "service_ready" in errors


def test_compose_describes_every_part_of_production(compose):
    services = _services(compose)

    assert set(services) == EXPECTED_SERVICES
    assert services["db"]["image"] == "mariadb:10.11"
    assert "--character-set-server=utf8mb4" in _command(services["db"])
    assert services["redis"]["image"].startswith("redis:7")
    assert services["web"]["deploy"]["replicas"] == 2
    assert "ports" not in services["web"], "only nginx should publish ports"
    assert set(services["nginx"]["ports"]) == {"80:80", "443:443"}


def test_every_app_service_gets_the_production_environment(compose):
    services = _services(compose)
    db_env = services["db"]["environment"]

    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_SETTINGS_MODULE"] == PRODUCTION, name
        # Required interpolation: compose itself refuses to start with the secret unset.
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
        assert env["ALLOWED_HOSTS"].startswith("${ALLOWED_HOSTS:?"), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name

        database = environ.Env.db_url_config(_interpolated(env["DATABASE_URL"]))
        assert database["ENGINE"] == "django.db.backends.mysql", name
        assert database["HOST"] in services and services[database["HOST"]]["image"].startswith("mariadb"), name
        assert database["PORT"] == 3306, name
        assert database["NAME"] == db_env["MARIADB_DATABASE"], name
        assert database["USER"] == db_env["MARIADB_USER"], name
        assert "${MARIADB_PASSWORD" in env["DATABASE_URL"] and "${MARIADB_PASSWORD" in db_env["MARIADB_PASSWORD"], name


def test_every_long_running_service_has_a_healthcheck_and_the_migration_gates_the_rest(compose):
    services = _services(compose)

    for name, service in services.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"

    assert services["migrate"]["restart"] == "no"
    for name in ("web", "ws", "worker", "worker-ml", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy", name
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["ws"]["condition"] == "service_healthy"


def test_web_healthcheck_calls_the_health_endpoint_that_the_urls_serve(compose):
    from django.urls import resolve

    from quantai import health

    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "deploy/healthcheck.py"] and test[3] == "web"
    assert '"/healthz"' in HEALTHCHECK.read_text()
    assert resolve("/healthz").func is health.healthz


def test_references_between_services_volumes_and_files_resolve(compose):
    services = _services(compose)
    declared_volumes = set(compose["volumes"])

    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"].get("dockerfile", "Dockerfile")).is_file()


# --- commands ----------------------------------------------------------------------------------


def _gunicorn_options() -> set[str]:
    from gunicorn.config import Config

    return {flag for setting in Config().settings.values() for flag in (setting.cli or [])}


def test_web_command_serves_the_real_wsgi_application_with_threaded_gunicorn_workers(compose):
    command = _command(compose["services"]["web"])
    assert command[0] == "gunicorn"
    target = next(token for token in command[1:] if ":" in token and not token.startswith("-") and "." in token)
    module_name, attribute = target.split(":")

    application = getattr(import_module(module_name), attribute)

    assert callable(application)
    assert set(_options(command)) <= _gunicorn_options()
    bind = _option_value(command, "--bind", "-b") or ""
    assert bind.rsplit(":", 1)[-1] in [str(port).split(":")[-1] for port in compose["services"]["web"]["expose"]]
    assert _option_value(command, "--worker-class", "-k") == "gthread"  # sync views side by side in each worker
    assert int(_interpolated_default(_option_value(command, "--workers", "-w") or "1")) >= 2
    assert int(_interpolated_default(_option_value(command, "--threads") or "1")) >= 2


def _interpolated_default(value: str) -> str:
    """``${VAR:-8}`` -> ``8`` (the value compose uses when .env does not set it)."""
    match = re.fullmatch(r"\$\{[^}:]*:-([^}]*)\}", value)
    return match.group(1) if match else value


def test_web_takes_the_client_address_from_the_one_proxy_in_front_of_it(compose):
    # gunicorn leaves REMOTE_ADDR as nginx's address; rate limits and lockouts read X-Forwarded-For, which
    # nginx overwrites with the client's (accounts.http.client_ip), only when told that one proxy is there.
    assert compose["services"]["web"]["environment"]["AXES_IPWARE_PROXY_COUNT"] == "1"
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in _nginx_text()


def test_ws_command_serves_the_real_asgi_application_with_real_uvicorn_options(compose):
    from uvicorn import main as uvicorn_cli

    service = compose["services"]["ws"]
    command = _command(service)
    assert command[0] == "uvicorn"
    target = next(token for token in command[1:] if ":" in token and not token.startswith("-"))
    module_name, attribute = target.split(":")

    application = getattr(import_module(module_name), attribute)

    assert callable(application)
    assert set(_options(command)) <= _click_options(uvicorn_cli)
    port = _option_value(command, "--port")
    assert port in [str(p).split(":")[-1] for p in service["expose"]]
    assert service["environment"]["PORT"] == port  # what its health check calls


def test_default_worker_is_bounded_in_children_and_memory(compose):
    command = _command(compose["services"]["worker"])
    most, least = (_option_value(command, "--autoscale") or "").split(",")
    assert int(least) == 1 <= int(_interpolated_default(most))
    assert int(_interpolated_default(_option_value(command, "--max-memory-per-child") or "0")) > 0


def test_celery_commands_use_the_project_app_its_queues_and_real_options(compose):
    from celery.app.utils import find_app
    from celery.bin.celery import celery as celery_cli

    from quantai.celery import app as project_app
    from quantai.celery_beat import app as beat_app

    declared_queues = {queue.name for queue in project_app.conf.task_queues}
    consumed: set[str] = set()
    beats = []
    for name, service in _services(compose).items():
        command = _command(service)
        if command[:1] != ["celery"]:
            continue
        subcommand = next(token for token in command[1:] if token in celery_cli.commands)
        # Beat runs its own app: the project's configuration and schedule without the tasks (quantai.celery_beat).
        expected_app = beat_app if subcommand == "beat" else project_app
        assert find_app(_option_value(command, "-A", "--app")) is expected_app, name
        assert set(_options(command)) <= _click_options(celery_cli, celery_cli.commands[subcommand]), name
        if subcommand == "worker":
            queues = set((_option_value(command, "-Q", "--queues") or "").split(","))
            assert queues <= declared_queues, f"{name} consumes undeclared queues {queues - declared_queues}"
            consumed |= queues
        elif subcommand == "beat":
            beats.append(name)
            schedule = _option_value(command, "-s", "--schedule")
            mounts = [volume.split(":")[1] for volume in service.get("volumes", [])]
            assert schedule and any(schedule.startswith(mount + "/") for mount in mounts), "beat's schedule must persist"

    routed = {route["queue"] for route in project_app.conf.task_routes.values()}
    assert declared_queues | routed <= consumed, "a queue that no worker consumes would pile up forever"
    assert len(beats) == 1 and "replicas" not in _services(compose)[beats[0]].get("deploy", {})


def test_ml_worker_runs_one_task_at_a_time_from_the_ml_image(compose):
    service = _services(compose)["worker-ml"]
    command = _command(service)

    assert _option_value(command, "-Q", "--queues") == "ml"
    assert _option_value(command, "-c", "--concurrency") == "1"
    assert service["build"]["target"] == "ml"


def test_worker_healthchecks_ping_the_node_name_their_worker_uses(compose):
    from celery.bin.celery import celery as celery_cli

    for name in ("worker", "worker-ml"):
        service = _services(compose)[name]
        node = _option_value(_command(service), "-n", "--hostname")
        kind, test = service["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        # Compose turns $$ into $; the shell then expands $HOSTNAME, which is what %h becomes.
        check = shlex.split(test.replace("$$HOSTNAME", "%h"))

        assert check[:4] == ["celery", "-A", "quantai", "inspect"] and "ping" in check
        assert _option_value(check, "--destination", "-d") == node
        assert set(_options(check)) <= _click_options(celery_cli, celery_cli.commands["inspect"])


def test_management_commands_in_compose_exist(compose):
    from django.core.management import get_commands

    found = 0
    for name, service in _services(compose).items():
        command = _command(service)
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in get_commands(), f"{name}: no management command {command[2]}"
            found += 1
    assert found, "the migrate service should run manage.py migrate"


# --- nginx -------------------------------------------------------------------------------------


def test_nginx_balances_over_the_web_and_ws_services_on_their_ports(compose):
    text = _nginx_text()
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", text))
    web_port = (_option_value(_command(compose["services"]["web"]), "--bind", "-b") or "").rsplit(":", 1)[-1]
    ws_port = _option_value(_command(compose["services"]["ws"]), "--port")

    assert {name: re.findall(r"server\s+([\w.-]+):(\d+)", body) for name, body in upstreams.items()} == {
        "quantai_web": [("web", web_port)],
        "quantai_ws": [("ws", ws_port)],
    }
    for target in re.findall(r"proxy_pass\s+http://([^;/\s]+)", text):
        assert target in upstreams, f"proxy_pass to undefined upstream {target}"


def test_nginx_upgrades_websockets_and_forwards_what_django_trusts():
    text = _nginx_text()
    (https,) = [server for server in _blocks(text, r"\bserver") if "ssl_certificate" in server]
    (websocket,) = _blocks(https, r"location\s+/ws/")
    (everything,) = _blocks(https, r"location\s+/")

    assert "proxy_pass http://quantai_ws;" in websocket  # websockets go to the ASGI server only
    assert "proxy_pass http://quantai_web;" in everything
    assert "proxy_http_version 1.1;" in websocket
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert "proxy_set_header Connection $connection_upgrade;" in websocket
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", text)
    for location in (websocket, everything):
        assert "proxy_pass http://" in location
        # SECURE_PROXY_SSL_HEADER and ALLOWED_HOSTS depend on these two.
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in location
        assert "proxy_set_header Host $host;" in location


def test_nginx_is_mounted_with_its_config_and_certificates(compose):
    nginx = _services(compose)["nginx"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in nginx["volumes"]}
    text = _nginx_text()

    assert (ROOT / mounts["/etc/nginx/nginx.conf"]).resolve() == NGINX_CONF
    assert text.count("{") == text.count("}")
    for path in re.findall(r"ssl_certificate(?:_key)?\s+(\S+);", text):
        assert any(path.startswith(target + "/") for target in mounts), f"{path} is not in a mounted folder"


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_builds_from_files_that_exist_and_stages_compose_asks_for(compose):
    instructions = _dockerfile_instructions()
    stages: list[str] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)", args, flags=re.IGNORECASE)
            stages.append(match.group(1) if match else "")
        elif keyword in {"COPY", "ADD"}:
            tokens = shlex.split(args)
            from_stage = next((t.split("=", 1)[1] for t in tokens if t.startswith("--from=")), None)
            paths = [t for t in tokens if not t.startswith("--")]
            if from_stage:
                assert from_stage in stages, f"COPY --from={from_stage} names no earlier stage"
                continue
            for source in paths[:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
        elif keyword == "RUN":
            for requirement in re.findall(r"requirements/([\w.-]+\.txt)", args):
                assert (ROOT / "requirements" / requirement).is_file(), requirement
            if "manage.py" in args:
                assert (ROOT / "manage.py").is_file()

    targets = {service["build"]["target"] for service in _services(compose).values() if "build" in service}
    assert targets <= set(stages)
    assert "python:3.11-slim-bookworm" in DOCKERFILE.read_text()


def test_image_stages_run_as_an_unprivileged_user():
    current, users = None, {}
    for keyword, args in _dockerfile_instructions():
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)", args, flags=re.IGNORECASE)
            current = match.group(1) if match else None
        elif keyword == "USER":
            users[current] = args

    for stage in ("web", "ml"):
        assert users.get(stage) not in (None, "root", "0"), f"stage {stage} runs as root"


def test_dockerignore_keeps_what_the_image_needs():
    assert _dockerignored(".venv/bin/python")
    assert _dockerignored(".env")
    # Development tools stay out of the image.
    assert _dockerignored("benchmarks/registry.py")
    for path in IMAGE_ESSENTIALS:
        assert (ROOT / path).exists(), path
        assert not _dockerignored(path), f".dockerignore drops {path} from the image"


# --- production settings (subprocesses with a clean environment) ------------------------------


@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_production_refuses_to_start_without_a_required_variable(tmp_path, variable, how):
    if how == "absent" and (ROOT / ".env").exists():
        pytest.skip("a .env file beside manage.py may define the variable; the 'empty' case covers this")
    env = _clean_env(tmp_path, SECRET_KEY=_secret_key(), ALLOWED_HOSTS="quantai.example.com")
    if how == "absent":
        del env[variable]
    else:
        env[variable] = ""

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    first_line = result.stderr.splitlines()[0]
    other = {"SECRET_KEY": "ALLOWED_HOSTS", "ALLOWED_HOSTS": "SECRET_KEY"}[variable]
    assert variable in first_line and "required" in first_line, result.stderr
    assert other not in first_line


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = _clean_env(tmp_path, SECRET_KEY=_secret_key(), ALLOWED_HOSTS="quantai.example.com")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_static_files_collect_with_the_values_the_image_build_uses(tmp_path):
    build_step = next(args for keyword, args in _dockerfile_instructions() if keyword == "RUN" and "collectstatic" in args)
    build_env = dict(re.findall(r"\b(SECRET_KEY|ALLOWED_HOSTS)=(\S+)", build_step))
    assert set(build_env) == {"SECRET_KEY", "ALLOWED_HOSTS"}
    env = _clean_env(tmp_path, **build_env)

    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "var" / "staticfiles" / "staticfiles.json").read_text())
    assert "css/quantai.css" in manifest["paths"]


# --- the web command and its health check, for real ---------------------------------------------


@pytest.fixture
def web_server(compose, tmp_path) -> Iterator[tuple[int, dict[str, str]]]:
    """The compose web command, bound to loopback on a free port, with production settings."""
    command = [_interpolated_default(token) for token in _command(compose["services"]["web"])]
    port = free_port()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = _clean_env(tmp_path, SECRET_KEY=_secret_key(), ALLOWED_HOSTS="quantai.example.com", PORT=str(port))
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the server forks workers: stop the whole group we started
    )
    try:
        yield port, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _healthcheck(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HEALTHCHECK), mode], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.slow
def test_web_command_starts_and_passes_its_compose_healthcheck(web_server, tmp_path):
    port, env = web_server
    deadline = time.monotonic() + 60
    result = _healthcheck("web", env)
    while result.returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        result = _healthcheck("web", env)

    assert result.returncode == 0, result.stdout + (tmp_path / "uvicorn.log").read_text(errors="replace")[-3000:]

    # The check fails when nothing answers on the port it is given.
    assert _healthcheck("web", {**env, "PORT": str(free_port())}).returncode == 1

    # Why the check sends nginx's headers: without X-Forwarded-Proto production redirects to https.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"Host": "quantai.example.com"})
        plain = connection.getresponse()
    finally:
        connection.close()
    assert plain.status == 301 and plain.getheader("Location", "").startswith("https://")


def test_beat_healthcheck_fails_when_the_broker_does_not_answer(tmp_path):
    env = _clean_env(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:1/0", BEAT_SCHEDULE=str(tmp_path / "celerybeat-schedule"))
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"")

    result = _healthcheck("beat", env)

    assert result.returncode == 1
    assert "broker" in result.stdout


@pytest.mark.redis
def test_beat_healthcheck_needs_the_broker_and_a_schedule_file(tmp_path, redis_url):
    env = _clean_env(tmp_path, CELERY_BROKER_URL=redis_url, BEAT_SCHEDULE=str(tmp_path / "celerybeat-schedule"))

    before = _healthcheck("beat", env)
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"")
    after = _healthcheck("beat", env)

    assert before.returncode == 1 and "schedule" in before.stdout
    assert after.returncode == 0, after.stdout
