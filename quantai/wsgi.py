"""WSGI entry point: production HTTP (gunicorn, see docker-compose.yml); websockets are served over ASGI (quantai.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")

application = get_wsgi_application()
