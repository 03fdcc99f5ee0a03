"""WSGI entry point: production HTTP (gunicorn, see docker-compose.yml); websockets are served over ASGI (quantai.asgi).

The application returns its freed memory to the system when the worker falls idle (:mod:`quantai.idle_trim`).
"""

import os

from django.core.wsgi import get_wsgi_application

from quantai.idle_trim import IdleTrim, glibc_malloc_trim

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")

application = IdleTrim(get_wsgi_application(), trim=glibc_malloc_trim())
