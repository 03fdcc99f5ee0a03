"""What one web process holds once every view is imported: its RSS and any heavy ML library in ``sys.modules``.

Sets Django up as the ASGI server does (``quantai.asgi``), walks every URL pattern (HTTP and
websocket) so each view module and everything it imports at top level is loaded, renders the home
page with the test client, then prints the result. The web process must never load torch,
xgboost, scikit-learn or the RL stack; they belong in the ML worker and are imported lazily there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

#: Top-level packages that must not be in a web process.
HEAVY_MODULES: tuple[str, ...] = ("torch", "xgboost", "sklearn", "stable_baselines3", "gymnasium")


def heavy_modules(module_names: Iterable[str], heavy: Iterable[str] = HEAVY_MODULES) -> list[str]:
    """The heavy top-level packages among ``module_names`` (``"sklearn.ensemble"`` counts as ``sklearn``), sorted."""
    wanted = set(heavy)
    return sorted({name.split(".", 1)[0] for name in module_names if name.split(".", 1)[0] in wanted})


def _walk(patterns: Iterable[Any]) -> int:
    """Import the view behind every pattern, descending into includes; returns the number of views."""
    from django.urls import URLPattern, URLResolver

    count = 0
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            count += _walk(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            # ``lookup_str`` resolves the callback, importing its module if it was given lazily.
            _ = pattern.callback, pattern.lookup_str
            count += 1
    return count


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")
    from django.conf import settings
    from django.test import Client
    from django.urls import get_resolver

    # Sets Django up exactly as the server does.
    import quantai.asgi
    from quantai.benchmarks.support import print_result, rss_mib

    views = _walk(get_resolver().url_patterns) + _walk(getattr(quantai.asgi, "websocket_urlpatterns", []))
    rss_after_import = rss_mib()
    host = next((h for h in settings.ALLOWED_HOSTS if h and h[0] not in ".*"), "127.0.0.1")
    response = Client().get("/", HTTP_HOST=host)
    print_result(
        {
            "views": views,
            "home_status": response.status_code,
            "rss_after_imports_mib": rss_after_import,
            "rss_mib": rss_mib(),
            "modules": len(sys.modules),
            "heavy_modules": heavy_modules(sys.modules),
        }
    )


if __name__ == "__main__":
    main()
