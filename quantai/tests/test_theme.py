"""Dark mode: static/css/quantai.css defines every colour as a custom property twice, for light and for
``prefers-color-scheme: dark``; text on its backgrounds keeps WCAG AA contrast (4.5:1) in both; the other style
sheets use the properties rather than fixed colours, so nothing stays light in dark mode; every page loads the
script that hands the colours to the charts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSS = ROOT / "static" / "css"
DARK_QUERY = "@media (prefers-color-scheme: dark)"

#: (text, background) pairs the style sheets put together.
TEXT_PAIRS = [
    ("fg", "bg"),
    ("fg", "card"),
    ("fg", "field"),
    ("fg", "chip"),
    ("fg", "hover"),
    ("muted", "card"),
    ("muted", "bg"),
    ("muted", "chip"),
    ("muted", "hover"),
    ("up", "card"),
    ("down", "card"),
    ("up", "bg"),
    ("down", "bg"),
    ("up", "ok-bg"),
    ("down", "error-bg"),
    ("on-accent", "accent"),
    ("on-accent", "up-strong"),
    ("on-accent", "down-strong"),
    ("fg", "warn-bg"),
    ("warn-fg", "warn-bg"),
    ("fg", "error-bg"),
    ("fg", "paused-bg"),
    ("fg", "ok-bg"),
    ("fg", "success-bg"),
    ("fg", "info-bg"),
    ("chart-text", "card"),
    # Lines of the charts against the chart's background (graphics: WCAG asks 3:1; ours meet 4.5:1).
    ("chart-1", "card"),
    ("chart-2", "card"),
]
#: Pairs that only exist in dark mode (light mode keeps the browser's own link colours).
DARK_ONLY_PAIRS = [("link", "card"), ("link", "bg"), ("link", "info-bg"), ("link", "warn-bg"), ("link-visited", "card")]
#: Fixed colours allowed outside the palette: the top bar is dark in both schemes, a QR code needs white.
FIXED_COLOUR_ALLOWED = re.compile(r"^\.(topbar|brand|nav-toggle-label|two-step-qr)\b")
#: Style sheets of pages that are not the site's own: the API docs are Swagger UI's page, in its own light colours.
OTHER_PAGES = {"api_docs.css"}


def _properties(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*([^;]+);", block))


def _palettes() -> tuple[dict[str, str], dict[str, str]]:
    text = (CSS / "quantai.css").read_text()
    assert DARK_QUERY in text, "quantai.css has no prefers-color-scheme: dark block"
    light_part, dark_part = text.split(DARK_QUERY, 1)
    light = _properties(light_part.split(":root", 1)[1].split("}", 1)[0])
    dark = _properties(dark_part.split(":root", 1)[1].split("}", 1)[0])
    return light, dark


def _luminance(hex_colour: str) -> float:
    h = hex_colour.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_helper_matches_known_ratios():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_every_colour_is_defined_for_light_and_dark():
    light, dark = _palettes()
    assert "color-scheme: light dark" in (CSS / "quantai.css").read_text()
    assert set(light) == set(dark), f"defined in one scheme only: {sorted(set(light) ^ set(dark))}"
    assert light["bg"] != dark["bg"] and light["fg"] != dark["fg"] and light["card"] != dark["card"]


def test_every_property_the_style_sheets_use_is_defined():
    light, _ = _palettes()
    sources = [*CSS.glob("*.css"), *(ROOT / "templates").rglob("*.html")]
    used = {name for path in sources for name in re.findall(r"var\(--([\w-]+)", path.read_text())}
    assert used - set(light) == set(), f"undefined custom properties: {sorted(used - set(light))}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_keeps_aa_contrast_in_both_schemes(scheme):
    light, dark = _palettes()
    palette = light if scheme == "light" else dark
    pairs = TEXT_PAIRS + (DARK_ONLY_PAIRS if scheme == "dark" else [])
    weak = [
        f"{fg} on {bg}: {contrast(palette[fg], palette[bg]):.2f}" for fg, bg in pairs if contrast(palette[fg], palette[bg]) < 4.5
    ]
    assert weak == []


def test_style_sheets_use_the_palette_not_fixed_colours():
    """A fixed colour in a rule would stay the same in dark mode (white cards on a dark page)."""
    problems = []
    for path in sorted(p for p in CSS.glob("*.css") if p.name not in OTHER_PAGES):
        text = path.read_text()
        if path.name == "quantai.css":
            text = text.split(DARK_QUERY, 1)[1].split("}\n}", 1)[1]  # after both palettes
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for rule in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
            selector, body = rule[0].strip(), rule[1]
            if re.search(r"#[0-9a-fA-F]{3,8}\b|rgba?\(", body) and not FIXED_COLOUR_ALLOWED.match(selector):
                problems.append(f"{path.name}: {selector}")
    assert problems == []


@pytest.mark.django_db
def test_every_page_loads_the_theme_script_and_says_it_supports_both_schemes(client):
    html = client.get("/login/").content.decode()
    assert '<meta name="color-scheme" content="light dark">' in html
    assert re.search(r'<script src="/static/js/theme(\.[0-9a-f]+)?\.js" defer></script>', html)
