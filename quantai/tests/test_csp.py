"""The Content-Security-Policy allows no inline style but two exact ones, and the pages need no other.

Styles come from static files; the only <style> elements a page may hold are listed in ``CSP_INLINE_STYLES``
(the self-contained error pages, and what Lightweight Charts injects for its attribution logo), each allowed by
the sha256 of its exact text. A browser refuses any other inline style, and the browser tests fail on the
console error that refusal logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string

ROOT = Path(settings.BASE_DIR)
VENDOR = ROOT / "static" / "vendor"
STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def _style_sources(client) -> list[str]:  # type: ignore[no-untyped-def]
    policy = client.get("/healthz").headers["Content-Security-Policy"]
    directive = next(part.strip() for part in policy.split(";") if part.strip().startswith("style-src "))
    return directive.split()[1:]


def _hash(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_styles_come_from_the_site_itself_and_never_from_an_inline_attribute_or_element(client):
    sources = _style_sources(client)

    assert not [source for source in sources if source.startswith("'unsafe-")]
    assert sources == ["'self'", *(_hash(text) for text in settings.CSP_INLINE_STYLES.values())]


@pytest.mark.parametrize("template", ["500.html", "503.html"])
def test_the_error_pages_keep_their_own_style_and_the_policy_allows_exactly_it(client, template):
    page = render_to_string(template, {"message": "Back in a moment."})

    styles = STYLE_ELEMENT.findall(page)
    assert len(styles) == 1 and "font:" in styles[0]
    assert _hash(styles[0]) in _style_sources(client)


def test_the_style_allowed_for_lightweight_charts_is_the_one_its_file_injects():
    # An upgrade that changes it makes the browser refuse it: update CSP_INLINE_STYLES with it.
    charts = (VENDOR / "lightweight-charts-5.2.1.standalone.production.js").read_text()
    logo = settings.CSP_INLINE_STYLES["lightweight-charts 5.2.1 attribution logo"]

    assert f'innerText="{logo}"' in charts


def test_every_page_that_loads_htmx_tells_it_to_add_no_inline_style():
    # By default htmx adds an indicator <style> when it loads and copies style attributes when it swaps content.
    pages = [path for path in _templates() if "vendor/htmx-" in path.read_text()]

    assert pages
    for path in pages:
        config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", path.read_text())
        assert config, path
        options = json.loads(config.group(1))
        assert options["includeIndicatorStyles"] is False and "style" not in options["attributesToSettle"], path


def _templates() -> list[Path]:
    return sorted(ROOT.glob("templates/**/*.html")) + sorted(ROOT.glob("*/templates/**/*.html"))


def test_no_page_template_holds_an_inline_style():
    # The error pages are the listed exception; mails are read in mail programs, where no CSP applies.
    allowed = {ROOT / "templates" / "500.html", ROOT / "templates" / "503.html"}
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)[:60]}"
        for path in _templates()
        if path not in allowed and "email" not in path.parts
        for match in re.finditer(r"<style\b[^>]*>|\sstyle\s*=", path.read_text())
    ]

    assert offenders == []


def test_the_api_documentation_takes_its_page_style_from_a_file(client):
    page = client.get("/api/docs/", secure=True).content.decode()

    assert "<style" not in page
    assert "/static/css/api_docs.css" in page
