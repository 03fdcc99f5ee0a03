"""Take the README's "first hour" screenshots with headless Chromium (Playwright) against a running `make run`.

    QUANTAI_VAR_DIR=/tmp/quantai-shots PORT=8765 MARKET_DATA_PROVIDER=demo make run     # note the demo password
    .venv/bin/python docs/screenshots/capture.py --url http://127.0.0.1:8765 --password '<printed password>'

Run it once the demo investor's Recommendations page shows the first model-made cards (the first training
finishes a few minutes after the site answers). With ``pngquant`` on the PATH (apt-get install pngquant) the
PNGs are reduced to a 256-colour palette to stay small.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def save(page: Any, name: str) -> None:
    """A viewport screenshot, as a palette PNG when pngquant is there (a fraction of the full-colour size)."""
    path = HERE / name
    page.screenshot(path=str(path))
    pngquant = shutil.which("pngquant")
    if pngquant:
        subprocess.run([pngquant, "--force", "--skip-if-larger", "--strip", "--output", str(path), "256", str(path)], check=False)  # noqa: S603
    print(f"{name}: {path.stat().st_size // 1024} KB")


def sign_in(page: Any, url: str, password: str, next_path: str) -> None:
    page.goto(f"{url}/login/?next={next_path}")
    page.locator("#id_username").fill("demo")
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", required=True, help="the demo investor's password that make run printed")
    parser.add_argument("--symbol", default="NVDA")
    options = parser.parse_args()
    url = options.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            desk = browser.new_page(viewport={"width": 1280, "height": 860}, color_scheme="light")
            sign_in(desk, url, options.password, "/recommendations/")
            save(desk, "01-recommendations.png")

            desk.goto(f"{url}/portfolio/")
            desk.locator('#portfolio-dashboard[data-ready="true"]').wait_for()
            desk.locator('.range-buttons[data-range-for="value-chart"] button[data-range="1Y"]').click()
            # From the value chart down: the chart with its range buttons, the allocation and the positions.
            desk.evaluate("window.scrollTo(0, document.getElementById('value-title').closest('section').offsetTop - 16)")
            desk.wait_for_timeout(500)
            save(desk, "02-portfolio.png")

            # Taller: the price chart, the position and the model's calls with their outcomes in one picture.
            dark = browser.new_page(viewport={"width": 1280, "height": 1180}, color_scheme="dark")
            sign_in(dark, url, options.password, f"/symbols/{options.symbol}/")
            dark.locator('#symbol-page[data-ready="true"]').wait_for()
            dark.wait_for_timeout(500)
            save(dark, "03-symbol-dark.png")

            phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
            sign_in(phone, url, options.password, "/recommendations/")
            phone.locator(".rec-card").first.wait_for()
            save(phone, "04-phone-recommendations.png")
        finally:
            browser.close()
    for path in sorted(HERE.glob("*.png")):
        assert re.match(r"\d\d-[a-z-]+\.png$", path.name), path


if __name__ == "__main__":
    main()
