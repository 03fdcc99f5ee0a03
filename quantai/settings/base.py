"""Settings shared by every environment.

Everything that differs between machines is read from the environment through one
``env`` helper (django-environ). With no environment at all the project runs on SQLite,
eager Celery tasks, the in-memory channel layer and the local-memory cache; setting
``DATABASE_URL`` and ``REDIS_URL`` switches to MySQL/MariaDB and Redis with no code change.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# Runtime files of this installation (SQLite database, model artifacts, collected static).
VAR_DIR = Path(env.str("QUANTAI_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-only-for-local-use-change-me")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "accounts.admin_site.QuantAIAdminConfig",  # django.contrib.admin, opened to analysts read-only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "axes",
    # Two-step sign-in (accounts.two_step): TOTP apps and single-use recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_ratelimit",
    "waffle",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "quantai.apps.QuantAIConfig",
    "accounts",
    "market",
    "portfolios",
    "learning",
    "recommendations",
    "backtesting",
    # The composition app (pages and APIs that combine the apps above): last, since nothing imports it.
    "insights",
]

MIDDLEWARE = [
    "quantai.logging.RequestIdMiddleware",
    # Before anything reads a body: too large for its endpoint is a 413 (REQUEST_BODY_LIMITS).
    "quantai.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Numbers in the reader's locale (quantai.templatetags.numbers); the text stays English.
    "quantai.middleware.NumberLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second step (accounts.two_step).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.live_updates_paused for the banner in base.html.
    "quantai.middleware.LiveUpdatesStatusMiddleware",
    # Idle/absolute session timeouts and per-session activity: once the user and messages exist.
    "accounts.middleware.SessionSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it turns any locked-out sign-in (admin included) into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "quantai.urls"
WSGI_APPLICATION = "quantai.wsgi.application"
ASGI_APPLICATION = "quantai.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "quantai.context_processors.site",
                "accounts.context_processors.onboarding",
            ],
            # Numbers in the reader's format on every page: money/shares, and floatformat (quantai.templatetags.localized).
            "builtins": ["quantai.templatetags.numbers", "quantai.templatetags.localized"],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASES: dict[str, dict[str, Any]] = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            # Strict mode turns silent truncation into errors; READ COMMITTED keeps
            # select_for_update() locks narrow.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE'",
            "isolation_level": "read committed",
        }
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
#: What every SQLite installation runs with (see below; ``quantai/tests/test_sqlite_writers.py`` tests them).
SQLITE_OPTIONS: dict[str, Any] = {
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # Under ASGI every request may run on a fresh thread, so persistent connections pile up
    # (measured: 151 open connections from one web process, then "Too many connections").
    # Django's advice for ASGI is 0. Celery workers and gunicorn's threaded web workers (a fixed set of
    # long-lived threads) set CONN_MAX_AGE=60 in their environment (docker-compose.yml).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # WAL: readers never wait for a writer. IMMEDIATE: a transaction takes the write lock when it begins, so two
    # writers queue (up to ``timeout`` seconds) instead of one failing at once with "database is locked" when it
    # tries to write after reading (measured: 1-6 of 300 dashboard requests at concurrency 8 answered 503 without).
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: cache, Celery broker, channel layer -------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")

if REDIS_URL:
    # django-redis keeps one connection pool per process; Django's own RedisCache builds a pool
    # per cache instance, which under ASGI (a thread per request) churned ~180 connections a run.
    CACHES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "quantai",
            "TIMEOUT": 300,
            # Redis down is a cache miss, not a 500: reads fall back to the database (cached_db
            # sessions included), writes to the cache are skipped. Short timeouts bound what a page
            # pays per cache call while Redis does not answer; /healthz names the outage.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "quantai:asgi"},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "quantai",
            "TIMEOUT": 300,
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "quantai.cache"
# Seconds a web process remembers whether the channel layer answers (the "live updates are paused"
# banner; quantai.health.live_updates_available).
LIVE_STATUS_CACHE_SECONDS = env.float("LIVE_STATUS_CACHE_SECONDS", default=5)

# django-ratelimit wants a shared cache with atomic increments: Redis in production. The
# local-memory cache of a single development process is acceptable there, so its checks are
# silenced only when Redis is not configured.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["django_ratelimit.E003", "django_ratelimit.W001"]

# Sessions are read from the cache and written through to the database, so a cache
# restart signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# A signed-in session ends after SESSION_IDLE_TIMEOUT seconds without a request and, whatever
# the activity, SESSION_ABSOLUTE_TIMEOUT seconds after sign-in (accounts.middleware enforces both).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
SESSION_ABSOLUTE_TIMEOUT = env.int("SESSION_ABSOLUTE_TIMEOUT", default=12 * 3600)
# last_seen is written at most this often, so a busy session costs one write a minute, not one a request.
SESSION_ACTIVITY_WRITE_INTERVAL = env.int("SESSION_ACTIVITY_WRITE_INTERVAL", default=60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
# A live websocket re-reads its session at least this often (quantai.live_sessions), besides the moment a
# timeout would end it and before every private message; market-wide messages re-check it at most every
# LIVE_SESSION_RECHECK_SECONDS.
LIVE_SESSION_CHECK_SECONDS = env.int("LIVE_SESSION_CHECK_SECONDS", default=60)
LIVE_SESSION_RECHECK_SECONDS = env.int("LIVE_SESSION_RECHECK_SECONDS", default=5)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# With no broker configured, tasks run in the calling process so a newcomer needs nothing else.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
# While Redis is down, sending a task fails within about a second (the web request answers 503 and
# says so) instead of retrying for ~20 s, the defaults of the broker and the result store.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
}

# --- Passwords ----------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Longer than any passphrase a person types; bounds the cost of hashing what a client sends.
PASSWORD_MAX_LENGTH = 4096

# django-axes must come first: it refuses locked-out credentials before any backend checks them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Lockout (django-axes) ------------------------------------------------------
# Failures are counted per username AND client IP together: a stranger guessing one user's
# password from elsewhere cannot lock that user out of their own machine.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("AXES_COOLOFF_SECONDS", default=15 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# "Alice" and "ALICE" are one account (usernames are unique regardless of case): one count.
AXES_USERNAME_CALLABLE = "accounts.http.lockout_username"
# A failed attempt while locked out does not extend the lock, so "try again after" stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# Our own audit log records sign-ins; axes keeps only the attempt counters.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Trusted reverse proxies in front of Django (0: none, only REMOTE_ADDR counts). Behind N proxies
# the client is the Nth X-Forwarded-For entry from the right; see accounts.http.client_ip, which
# lockouts, rate limits and the audit log share.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.http.client_ip"
# How long axes' optional access logs are kept by the cleanup task.
AXES_LOG_RETENTION_DAYS = env.int("AXES_LOG_RETENTION_DAYS", default=90)

# --- Rate limits (django-ratelimit, counters in the default cache) ---------------------
# One table for every app: "N/period" with period s, m, h or d. accounts.ratelimits.rate_limit
# applies them; later apps add their own keys here.
RATE_LIMITS: dict[str, str] = {
    "login": env.str("RATE_LIMIT_LOGIN", default="10/m"),
    "register": env.str("RATE_LIMIT_REGISTER", default="5/h"),
    "password_change": env.str("RATE_LIMIT_PASSWORD_CHANGE", default="5/h"),
    # Asking for a reset link and using one, per client address (accounts.password_reset).
    "password_reset": env.str("RATE_LIMIT_PASSWORD_RESET", default="10/h"),
    "api_user": env.str("RATE_LIMIT_API_USER", default="600/h"),
    "recommendation_respond": env.str("RATE_LIMIT_RECOMMENDATION_RESPOND", default="120/h"),
    "training": env.str("RATE_LIMIT_TRAINING", default="10/h"),
    "backtest": env.str("RATE_LIMIT_BACKTEST", default="30/h"),
}
RATELIMIT_USE_CACHE = "default"
# While the cache is down no count can be kept: let requests through rather than refuse every
# sign-in and API call. Password guessing stays bounded by the lockout, which axes counts in the database.
RATELIMIT_FAIL_OPEN = True
RATELIMIT_IP_META_KEY = "accounts.http.ratelimit_client_ip"

# --- Two-step sign-in (django-otp; accounts.two_step) --------------------------------------
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="QuantAI")
# Seconds between a correct password and the code that completes the sign-in.
TWO_STEP_PENDING_SECONDS = env.int("TWO_STEP_PENDING_SECONDS", default=5 * 60)
# Codes typed on the Settings page (turn off, new recovery codes), per user.
RATE_LIMITS["two_step"] = env.str("RATE_LIMIT_TWO_STEP", default="10/h")
# axes keeps the form data of failed attempts: never the codes typed.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp"]

# --- Security alerts (accounts.security): mail operators when these counts are reached within
# the window, at most once per kind per cooldown. A threshold of 0 turns that alert off.
SECURITY_ALERT_FAILED_LOGINS = env.int("SECURITY_ALERT_FAILED_LOGINS", default=50)
SECURITY_ALERT_LOCKOUTS = env.int("SECURITY_ALERT_LOCKOUTS", default=5)
SECURITY_ALERT_WINDOW_MINUTES = env.int("SECURITY_ALERT_WINDOW_MINUTES", default=15)
SECURITY_ALERT_COOLDOWN_MINUTES = env.int("SECURITY_ALERT_COOLDOWN_MINUTES", default=60)
# Optional absolute address of the site, for links in mails.
SITE_URL = env.str("SITE_URL", default="")

# --- API tokens (django-rest-knox): stored as SHA-512 digests, expiring ------------------
REST_KNOX = {
    "TOKEN_TTL": timedelta(seconds=env.int("API_TOKEN_TTL_SECONDS", default=10 * 3600)),
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKEN_LIMIT_PER_USER", default=20),
    "AUTO_REFRESH": False,
}

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so an anonymous request gets 401 with "WWW-Authenticate: Token". Knox's class without
    # its per-request scan of the user's other tokens (accounts.authentication).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Default deny: an endpoint is closed unless it opts out explicitly.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One ceiling per signed-in user across the whole API (RATE_LIMITS["api_user"]).
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.UserApiThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "quantai.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "quantai.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's three, with a JSON parser that answers deeply nested bodies with 400 parse_error.
    "DEFAULT_PARSER_CLASSES": [
        "quantai.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Deepest nesting of arrays and objects a JSON request body may have (quantai.parsers).
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)

# --- Request bodies -----------------------------------------------------------------------------
# Largest body, in bytes, per path prefix (the longest matching prefix wins); a larger one is refused
# with 413 before anything reads it (quantai.middleware.RequestBodyLimitMiddleware). Everything else,
# the admin included, has DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB). An honest sign-in, registration or
# password form stays under 100 KiB even with PASSWORD_MAX_LENGTH characters fully escaped; the
# auth limit leaves room for hostile but small bodies (200 KB of nesting) to get their precise 400.
REQUEST_BODY_LIMIT_AUTH = env.int("REQUEST_BODY_LIMIT_AUTH", default=256 * 1024)
REQUEST_BODY_LIMIT_API = env.int("REQUEST_BODY_LIMIT_API", default=512 * 1024)
REQUEST_BODY_LIMITS: dict[str, int] = {
    "/api/": REQUEST_BODY_LIMIT_API,
    "/api/auth/": REQUEST_BODY_LIMIT_AUTH,
    "/login/": REQUEST_BODY_LIMIT_AUTH,
    "/register/": REQUEST_BODY_LIMIT_AUTH,
    "/settings/password/": REQUEST_BODY_LIMIT_AUTH,
    "/password-reset/": REQUEST_BODY_LIMIT_AUTH,
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
SPECTACULAR_SETTINGS = {
    "TITLE": "QuantAI API",
    "DESCRIPTION": "AI investing copilot for AAPL, AMZN, GOOGL, META and NVDA.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets are served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BacktestRunStatusEnum": "backtesting.models.RunStatus",
        "LedgerEntrySideEnum": "portfolios.models.TradeSide",
        # CSV import: the formats a request may ask for (auto included) and the ones a preview reports.
        "ImportFormatRequestEnum": "portfolios.api.imports.FORMAT_CHOICES",
        "ImportFormatEnum": "portfolios.core.importing.ImportFormat",
    },
    # 429 on every operation, user_id as `me` or digits (quantai.openapi); strict input: quantai.api_fields.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "quantai.openapi.document_common_responses"],
}

# --- Market data -------------------------------------------------------------------
# Which provider the price-refresh task asks: "demo" (seeded synthetic market, no network),
# "yfinance", "alphavantage", "finazon" or "csv" (with MARKET_DATA_CSV_DIR); "auto" (make run) asks the
# provider of the stored market, which `load_prices --source auto` chose (Yahoo Finance if reachable, else demo).
MARKET_DATA_PROVIDER = env.str("MARKET_DATA_PROVIDER", default="demo")
MARKET_DATA_CSV_DIR = env.str("MARKET_DATA_CSV_DIR", default="")
MARKET_DATA_DEMO_SEED = env.int("MARKET_DATA_DEMO_SEED", default=7)
ALPHAVANTAGE_API_KEY = env.str("ALPHAVANTAGE_API_KEY", default="")
# Alpha Vantage's free tier answers 25 calls a day; the refresh skips the provider once they are spent.
MARKET_DATA_DAILY_CALL_BUDGETS = {"alphavantage": env.int("ALPHAVANTAGE_DAILY_CALLS", default=25)}
FINAZON_API_KEY = env.str("FINAZON_API_KEY", default="")
LATEST_PRICE_CACHE_SECONDS = env.int("LATEST_PRICE_CACHE_SECONDS", default=300)
# The NYSE session table (market.calendar): web processes read it instead of importing pandas and exchange_calendars
# to build it. The Celery worker, `manage.py serve`, `manage.py build_calendar` and the Docker build write it;
# any process that finds it missing or stale (under a year ahead) rebuilds it.
MARKET_CALENDAR_FILE = Path(env.str("MARKET_CALENDAR_FILE", default=str(VAR_DIR / "calendar" / "XNYS.json")))

# --- Feature flags (quantai.flags) --------------------------------------------------
# Defaults; an operator overrides any of them with a django-waffle switch of the same name.
FEATURE_FLAGS: dict[str, bool] = {
    "personalised_recommendations": env.bool("FLAG_PERSONALISED_RECOMMENDATIONS", default=True),
    "reinforcement_learning": env.bool("FLAG_REINFORCEMENT_LEARNING", default=True),
    "risk_alerts": env.bool("FLAG_RISK_ALERTS", default=True),
    "portfolio_rebalancing": env.bool("FLAG_PORTFOLIO_REBALANCING", default=False),
    "advanced_analytics": env.bool("FLAG_ADVANCED_ANALYTICS", default=True),
    "user_feedback": env.bool("FLAG_USER_FEEDBACK", default=True),
    "learning_insights": env.bool("FLAG_LEARNING_INSIGHTS", default=True),
    "short_selling": env.bool("FLAG_SHORT_SELLING", default=False),
}

# --- Content Security Policy (django-csp): no inline or third-party scripts, no inline styles ---------------
#: The only <style> elements a page may hold, each allowed by the hash of its exact text (style-src); every other
#: style comes from a static file (htmx is configured to add none: the htmx-config meta of the pages that load it).
#: quantai/tests/test_csp.py checks these texts against the templates and vendor files.
CSP_INLINE_STYLES = {
    # The error pages carry their own style: they are shown when the database or the static manifest is broken.
    "error pages": (BASE_DIR / "templates" / "_error_style.css").read_text(),  # included by 500.html and 503.html
    # Lightweight Charts styles the TradingView attribution logo its licence asks the charts to show.
    "lightweight-charts 5.2.1 attribution logo": (
        "a#tv-attr-logo{--fill:#131722;--stroke:#fff;position:absolute;left:10px;bottom:10px;height:19px;width:35px;"
        "margin:0;padding:0;border:0;z-index:3;}a#tv-attr-logo[data-dark]{--fill:#D1D4DC;--stroke:#131722;}"
    ),
}
_STYLE_HASHES = [f"'sha256-{base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}'" for t in CSP_INLINE_STYLES.values()]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", *_STYLE_HASHES],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Learning (learning/services/config.py documents the rest) ---------------------------
MODELS_DIR = Path(env.str("MODELS_DIR", default=str(VAR_DIR / "models")))
# Forward-return horizon of the labels and of recommendations, in trading days.
LEARNING_HORIZON_DAYS = env.int("LEARNING_HORIZON_DAYS", default=5)
# Empty: every installed kind (rl only while its feature flag is on).
LEARNING_MODELS: list[str] = env.list("LEARNING_MODELS", default=[])
LEARNING_AUC_MARGIN = env.float("LEARNING_AUC_MARGIN", default=0.01)
LEARNING_EVAL_FOLDS = env.int("LEARNING_EVAL_FOLDS", default=3)

# --- Monitoring ---------------------------------------------------------------------
# Bearer token a Prometheus scraper sends to GET /metrics; empty turns token access off
# (operators' sessions still work).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Bearer token a monitor sends to GET /healthz for the detail of each part (engines, timings, errors);
# without it, or a signed-in operator, /healthz answers the status only. Empty turns token access off.
HEALTHZ_TOKEN = env.str("HEALTHZ_TOKEN", default="")

# --- Logging ------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=False)
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "quantai.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
