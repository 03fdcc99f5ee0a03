"""What the backtesting page tests share (not a test module): the Content Security Policy's rule for the HTML."""

from __future__ import annotations

import re

SCRIPT_TAG = re.compile(r"<script([^>]*)>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def assert_no_inline_script(html: str) -> None:
    """The page has scripts, each loaded from a file, and no inline event handlers (the CSP allows neither)."""
    scripts = SCRIPT_TAG.findall(html)
    assert scripts
    # Every <script> loads a file, except json_script's data block (not executable).
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    assert not EVENT_HANDLER.search(html)
