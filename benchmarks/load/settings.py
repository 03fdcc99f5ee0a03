"""Settings of the ``load`` benchmark's processes: production, plus the benchmark-only URLs.

Everything else comes from the environment the section sets (``DATABASE_URL`` naming its own
database, ``REDIS_URL`` naming its own Redis db, ``SECRET_KEY``, ``ALLOWED_HOSTS``), exactly as a
production deployment reads it. Only the URL configuration differs: it adds one bare endpoint for
comparison (:mod:`benchmarks.load.urls`), which the product never serves.
"""

from quantai.settings.production import *  # noqa: F403

ROOT_URLCONF = "benchmarks.load.urls"
