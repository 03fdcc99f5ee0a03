"""What one web process holds once it has served the hot pages: its RSS and any heavy library in ``sys.modules``.

``python -m benchmarks.probes.web_imports seed`` fills a migrated database, in its own process, the
way the workers would have: closes, an investor with a ledger, the analytics snapshot. Then
``python -m benchmarks.probes.web_imports`` sets Django up as the ASGI server does (``quantai.asgi``),
walks every URL pattern (HTTP and websocket) so each view module and everything it imports at top level is
loaded, renders the home page, and, signed in as that investor, gets the dashboard, the portfolio and
recommendations APIs and the analytics API, then prints the result. Last it answers the investor's pending
card (the load mix's POST) and reports what that added, apart (``loaded_after_answer``).

A web process must never load torch, xgboost, scikit-learn or the RL stack (the ML worker's), and after
those requests it should not have loaded numpy, pandas or scipy either (:data:`WEB_FORBIDDEN_MODULES`): the
pages read stored snapshots, and the rare pages that compute import what they need themselves.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Top-level packages that must not be in a web process.
HEAVY_MODULES: tuple[str, ...] = ("torch", "xgboost", "sklearn", "stable_baselines3", "gymnasium")
#: ... and that a web process which served the hot pages should not have imported either.
DATA_MODULES: tuple[str, ...] = ("numpy", "pandas", "scipy")
WEB_FORBIDDEN_MODULES: tuple[str, ...] = (*HEAVY_MODULES, *DATA_MODULES)
#: The requests of the probe: (label, path), signed in as the seeded investor.
HOT_REQUESTS: tuple[tuple[str, str], ...] = (
    ("dashboard", "/portfolio/"),
    ("portfolio_api", "/api/portfolio/me"),
    ("recommendations_api", "/api/portfolio/me/recommendations"),
    ("analytics_api", "/api/portfolio/me/analytics"),
)
PROBE_USERNAME = "probe-investor"
#: Modules whose presence after answering a card the probe reports (building the exchange calendar brings pandas).
ANSWER_MODULES: tuple[str, ...] = (*WEB_FORBIDDEN_MODULES, "exchange_calendars")


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


def _top_level_imports(path: str) -> set[str]:
    """Modules a source file imports when it is imported (not inside functions, not under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    with contextlib.suppress(OSError, SyntaxError, ValueError):
        visit(ast.parse(Path(path).read_text()).body)
    return found


def project_importers(modules: Iterable[str] = DATA_MODULES) -> list[str]:
    """The project's loaded modules that import one of ``modules`` at top level: where to look when one is loaded."""
    root = str(Path(__file__).resolve().parents[3]) + os.sep
    wanted = set(modules)
    out = []
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if not path.startswith(root) or f"{os.sep}.venv{os.sep}" in path:
            continue
        if any(imported.split(".", 1)[0] in wanted for imported in _top_level_imports(path)):
            out.append(name)
    return out


def seed() -> dict[str, Any]:
    """An investor with closes, a ledger and a current analytics snapshot (what the workers leave behind)."""
    import django

    django.setup()
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    from accounts.models import OnboardingStage, User
    from market.models import PriceBar, PriceSource
    from portfolios.models import TradeSource
    from portfolios.services import cash_deposit, portfolio_snapshots_refresh, trade_execute

    days: list[date] = []
    day = datetime.now(UTC).date() - timedelta(days=1)
    while len(days) < 60:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    days.reverse()
    bars = []
    for i, session in enumerate(days):
        for symbol, base in (("AAPL", 180), ("NVDA", 120), ("SPY", 450)):
            close = Decimal(base + (i * 7 % 11) - i / 10).quantize(Decimal("0.0001"))
            bars.append(
                PriceBar(symbol=symbol, date=session, open=close, high=close, low=close, close=close, adj_close=close,
                         volume=1_000_000, source=PriceSource.CSV)
            )  # fmt: skip
    PriceBar.objects.bulk_create(bars)
    user = User.objects.create_user(PROBE_USERNAME, f"{PROBE_USERNAME}@example.com", "probe-password-0123456789")
    user.onboarding_stage = OnboardingStage.ACTIVE
    user.save(update_fields=["onboarding_stage"])
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    cash_deposit(
        user=user, amount=Decimal("20000.00"), idempotency_key="probe-1", source=TradeSource.ONBOARDING, executed_at=start
    )
    for n, (symbol, shares, offset) in enumerate((("AAPL", 20, 0), ("NVDA", 30, 10), ("AAPL", 5, 30)), start=2):
        trade_execute(user=user, symbol=symbol, side="BUY", shares=shares, price=Decimal(150), source=TradeSource.MANUAL,
                      idempotency_key=f"probe-{n}", executed_at=start + timedelta(days=offset))  # fmt: skip
    # A pending card to answer, open until well after the last session.
    from recommendations.models import Recommendation, RecommendationType

    Recommendation.objects.create(
        user=user, symbol="NVDA", recommendation_type=RecommendationType.SELL, trade_side="SELL",
        recommended_shares=Decimal(1), recommended_price=Decimal(150), confidence_score=Decimal("0.6"),
        trading_date=days[-1], expires_on=days[-1] + timedelta(days=60), evaluate_on=days[-1] + timedelta(days=60),
    )  # fmt: skip
    return {"sessions": len(days), "snapshots": portfolio_snapshots_refresh()}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")
    if sys.argv[1:] == ["seed"]:
        from benchmarks.support import print_result

        print_result(seed())
        return
    from django.conf import settings
    from django.test import Client
    from django.urls import get_resolver

    # Sets Django up exactly as the server does.
    import quantai.asgi
    from benchmarks.support import print_result, rss_mib

    views = _walk(get_resolver().url_patterns) + _walk(getattr(quantai.asgi, "websocket_urlpatterns", []))
    rss_after_import = rss_mib()
    host = next((h for h in settings.ALLOWED_HOSTS if h and h[0] not in ".*"), "127.0.0.1")
    client = Client(HTTP_HOST=host)
    statuses = {"home": client.get("/").status_code}
    after_imports = set(sys.modules)
    from accounts.models import User

    investor = User.objects.filter(username=PROBE_USERNAME).first()
    after_requests: set[str] = set(sys.modules)
    rss_after_requests, importers = rss_mib(), project_importers()
    if investor is not None:
        client.force_login(investor)
        for label, path in HOT_REQUESTS:
            statuses[label] = client.get(path, secure=True).status_code
        after_requests, rss_after_requests, importers = set(sys.modules), rss_mib(), project_importers()
        from recommendations.models import Recommendation

        card = Recommendation.objects.filter(user=investor, status="pending").first()
        if card is not None:
            answer = client.post(
                f"/api/portfolio/me/recommendations/{card.pk}/respond",
                {"accept": False},
                content_type="application/json",
                secure=True,
            )
            statuses["answer"] = answer.status_code
    print_result(
        {
            "views": views,
            "home_status": statuses["home"],
            "statuses": statuses,
            "seeded": investor is not None,
            "rss_after_imports_mib": rss_after_import,
            "rss_mib": rss_after_requests,
            "modules": len(after_requests),
            "heavy_modules": heavy_modules(after_requests),
            "forbidden_modules": heavy_modules(after_requests, WEB_FORBIDDEN_MODULES),
            "forbidden_after_imports": heavy_modules(after_imports, WEB_FORBIDDEN_MODULES),
            "loaded_after_answer": heavy_modules(sys.modules, ANSWER_MODULES),
            "rss_after_answer_mib": rss_mib(),
            "data_module_importers": importers,
            "data_module_importers_after_answer": project_importers(),
        }
    )


if __name__ == "__main__":
    main()
