"""The personal-data export: complete for its user, nobody else's data, no secrets, JSON and CSV alike."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from knox.models import AuthToken

from accounts.data_export import personal_data_write
from accounts.models import User
from accounts.tests.personal_data_builders import COMMENT, NOTE, SECRET_EMAIL, make_bystander, make_rich_user
from backtesting.models import BacktestRun
from portfolios.models import Trade
from recommendations.models import Recommendation

pytestmark = pytest.mark.django_db

EXPECTED_TABLES = {
    "accounts": {"profile", "sessions", "api_tokens", "audit_events"},
    "portfolios": {"trades", "positions", "cash", "risk_alerts"},
    "learning": {"training_runs_started"},
    "recommendations": {"recommendations", "preference_profile"},
    "backtesting": {"backtest_runs"},
    "insights": {"digest_deliveries"},
}


def _json_export(user) -> tuple[bytes, dict]:
    out = io.BytesIO()
    personal_data_write(user=user, fmt="json", out=out)
    return out.getvalue(), json.loads(out.getvalue())


def test_json_export_holds_every_section_with_the_users_rows():
    user = make_rich_user()
    make_bystander()
    _, document = _json_export(user)

    assert document["format"] == "quantai.personal-data" and document["username"] == user.username
    sections = document["sections"]
    assert {app: set(tables) for app, tables in sections.items()} == EXPECTED_TABLES
    assert [r["id"] for r in sections["portfolios"]["trades"]] == list(
        Trade.objects.filter(user=user).values_list("pk", flat=True)
    )
    assert {r["id"] for r in sections["recommendations"]["recommendations"]} == set(
        Recommendation.objects.filter(user=user).values_list("pk", flat=True)
    )
    assert len(sections["backtesting"]["backtest_runs"]) == BacktestRun.objects.filter(owner=user).count() == 1
    assert sections["accounts"]["profile"][0]["email"] == SECRET_EMAIL
    assert NOTE in {p["notes"] for p in sections["portfolios"]["positions"]}
    assert COMMENT in {r["user_feedback_comment"] for r in sections["recommendations"]["recommendations"]}
    # Money stays exact: a decimal string, not a float.
    amzn = next(t for t in sections["portfolios"]["trades"] if t["symbol"] == "AMZN")
    assert (amzn["price"], Decimal(amzn["shares"])) == ("120.00", Decimal(3))


def test_export_contains_no_other_users_data_and_no_secrets(client):
    user = make_rich_user()
    other = make_bystander()
    client.force_login(user)
    raw, _ = _json_export(user)

    assert other.username.encode() not in raw
    assert user.password.encode() not in raw  # the password hash
    for digest in AuthToken.objects.filter(user=user).values_list("digest", flat=True):
        assert digest.encode() not in raw
    for key in Session.objects.values_list("session_key", flat=True):
        assert key.encode() not in raw


def test_csv_export_is_a_zip_with_one_csv_per_table_and_a_manifest():
    user = make_rich_user()
    out = io.BytesIO()
    counts = personal_data_write(user=user, fmt="csv", out=out)

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        names = set(archive.namelist())
        assert names == {"manifest.json"} | {f"{app}/{t}.csv" for app, tables in EXPECTED_TABLES.items() for t in tables}
        manifest = json.loads(archive.read("manifest.json"))
        trades = list(csv.DictReader(io.StringIO(archive.read("portfolios/trades.csv").decode())))
        profile = list(csv.DictReader(io.StringIO(archive.read("recommendations/preference_profile.csv").decode())))
        header = archive.read("recommendations/preference_profile.csv").decode().splitlines()[0]
    assert manifest["tables"] == counts
    assert len(trades) == counts["portfolios/trades"] == Trade.objects.filter(user=user).count()
    assert {t["price"] for t in trades if t["symbol"] == "AMZN"} == {"120.00"}
    assert profile == [] and "acceptance_rate" in header  # an empty table still says what its columns are


def test_export_command_writes_json_and_csv_files(tmp_path):
    user = make_rich_user()
    call_command("export_user_data", user=user.username, out=tmp_path / "me.json")
    call_command("export_user_data", "--user", user.username, "--format", "csv", "--out", str(tmp_path / "me.zip"))

    document = json.loads((tmp_path / "me.json").read_text())
    assert len(document["sections"]["portfolios"]["trades"]) == Trade.objects.filter(user=user).count()
    assert zipfile.is_zipfile(tmp_path / "me.zip")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_export_command_prints_json_to_standard_output(capfdbinary):
    user = make_rich_user()
    call_command("export_user_data", user=user.username)
    assert json.loads(capfdbinary.readouterr().out)["username"] == user.username


def test_export_command_refuses_an_unknown_user_and_a_zip_on_standard_output():
    user = make_rich_user()
    with pytest.raises(CommandError, match="No such user"):
        call_command("export_user_data", user="nobody-here")
    with pytest.raises(CommandError, match="--out"):
        call_command("export_user_data", user=user.username, fmt="csv")


def test_every_project_app_that_stores_rows_about_a_user_contributes_to_export_and_deletion():
    from django.apps import apps
    from django.conf import settings

    from quantai.personal_data import providers

    project_apps = {
        c.label
        for c in apps.get_app_configs()
        if str(c.path).startswith(str(settings.BASE_DIR)) and "site-packages" not in str(c.path)
    }
    linked = {
        model._meta.app_label
        for model in apps.get_models()
        if model._meta.app_label in project_apps
        and any(f.is_relation and f.related_model is User for f in model._meta.concrete_fields)
    }
    registered = {p.name: p for p in providers()}
    assert linked, "the check found no model linked to the user"
    missing = sorted(
        app for app in linked if app not in registered or registered[app].export is None or registered[app].erase is None
    )
    assert missing == [], f"add a personal_data.py with export and erase to: {missing}"
