"""``GET /api/learning/performance``: the learning app's model performance with how the recommendations did live.

The learning app computes the summary (:func:`learning.selectors.performance_summary`); the ``live`` block is
:func:`insights.learning_loop.live_performance`, which reads recommendations (to the learning app's right), published
with the recommendations stats API's serializers. Access is the learning API's: analysts, operators and administrators.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalyst
from insights import learning_loop
from insights.api.serializers import LearningPerformanceSerializer
from learning import selectors
from learning.api.views import READ_ERRORS, TAG


class PerformanceView(APIView):
    permission_classes = [IsAnalyst]

    @extend_schema(
        tags=[TAG],
        responses={200: LearningPerformanceSerializer, **READ_ERRORS},
        summary="Model performance",
        description="The active version of each model kind with its metrics on the promotion gate's fold, the active "
        "ensemble's walk-forward folds (every model next to the always-up, momentum and buy-and-hold baselines), its "
        "reliability bins, feature importances and combiner weights. `edge`: whether the direction model showed an "
        'out-of-sample edge, in figures and in plain words ("No edge found: ...; recommendations use the risk-only '
        'policy." when the latest ensemble had none and nothing serves). `live`: how the recommendations made so far did '
        "(acceptance rate, accuracy of those scored at their horizon beside the base rate, the share whose price rose, "
        "accuracy and base rate per action, calibration), all users together and per model version, in the shape of "
        "`GET /api/recommendations/{user_id}/stats`; null until there are recommendations. `personalisation`: the "
        "bandit's and the acceptance model's time-ordered AUC and reliability from the nightly job (each answer scored "
        "by the model as it stood before it); null before the first run.",
    )
    def get(self, request: Request) -> Response:
        summary = selectors.performance_summary()
        summary["live"] = learning_loop.live_performance()
        summary["personalisation"] = learning_loop.personalisation_quality()
        response = Response(LearningPerformanceSerializer(summary).data)
        add_never_cache_headers(response)
        return response
