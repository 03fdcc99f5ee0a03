"""The product's URLs plus one bare Django + DRF endpoint, for the ``load`` benchmark's server only.

``GET /__bench__/bare`` goes through the whole middleware stack and DRF's request cycle but does no
authentication, no throttling and no database work: its figures are the floor of what any endpoint
on the same server can do, measured in the same run as the real ones.
"""

from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quantai import urls as product_urls

BARE_PATH = "/__bench__/bare"


class BareView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    schema = None

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path(BARE_PATH.lstrip("/"), BareView.as_view(), name="bench-bare"), *product_urls.urlpatterns]

handler404 = product_urls.handler404
handler500 = product_urls.handler500
