"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets only accept the site's own origin (scheme, host and port: ``quantai.origins``) and
authenticated sessions; each browser joins its own user's group at ``/ws/live/``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from quantai.consumers import LiveConsumer  # noqa: E402
from quantai.origins import SameOriginValidator  # noqa: E402

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
