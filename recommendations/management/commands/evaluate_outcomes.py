"""``manage.py evaluate_outcomes [--as-of DATE]``: the issue's name for ``evaluate_recommendations``.

The same command class (so the same arguments, progress bar and service call); only the name differs.
"""

from __future__ import annotations

from recommendations.management.commands.evaluate_recommendations import Command as EvaluateRecommendationsCommand


class Command(EvaluateRecommendationsCommand):
    pass
