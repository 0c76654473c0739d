"""Mingchu settings: every value comes from the environment (twelve-factor).

`.env.example` documents each variable. Production differs from development only by values;
secrets have no default unless DEBUG is on.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import django_stubs_ext
import environ
from celery.schedules import crontab

# Lets admin and generic classes be subscripted (ModelAdmin[Store]) for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The project's `.env` (written from .env.example on first set-up) fills in what the real
# environment does not set; real environment variables always win. ENV_FILE names another file.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)


def _secret(name: str, dev_default: str) -> str:
    """A secret with a default only in development: production must set it."""
    if DEBUG:
        return str(env.str(name, default=dev_default))
    return str(env.str(name))


SECRET_KEY = _secret("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
# Keyed hash for identity numbers and phone numbers (HMAC-SHA256); kept apart from SECRET_KEY
# so that rotating sessions does not orphan stored hashes.
IDENTITY_HASH_KEY = _secret("IDENTITY_HASH_KEY", "dev-only-identity-hash-key")

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://localhost:8000", "http://127.0.0.1:8000"]
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "django_htmx",
    "core",
    "accounts",
    "delivery",
    "dispatch",
    "compliance",
    "compliance.inspections",
    "compliance.cases",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise, async-capable under Daphne (see core.middleware).
    "core.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns lock-outs into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.site",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url(
        "DATABASE_URL",
        default="postgis://postgres@127.0.0.1:5432/mingchu",
        engine="django.contrib.gis.db.backends.postgis",
    )
}
# Persistent connections: the web process lends each request one of ASGI_SYNC_THREADS threads
# (core.asgi), each keeping its connection; CONN_HEALTH_CHECKS drops one that died.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
ASGI_SYNC_THREADS: int = env.int("ASGI_SYNC_THREADS", default=4)
# The test database is the run's own (two suites at once on one server must not share one).
DATABASES["default"]["TEST"] = {
    "NAME": env.str("TEST_DATABASE_NAME", default=f"test_{DATABASES['default']['NAME']}_{os.getpid()}")
}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# gis.W001 asks for GDAL >= 3.9 to block file and network access from spatial references;
# Debian 12 ships 3.6. We never build a SpatialReference from user input (zones and pins arrive
# as coordinates or GeoJSON and go through GEOS), so the risk it guards against is not reached.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")


def redis_db_url(db: int) -> str:
    """REDIS_URL with another logical database, so the broker, the channel layer and the
    cache never share keys on one server (and can be split onto separate servers later)."""
    parts = urlsplit(REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


_REDIS_DB = int(urlsplit(REDIS_URL).path.lstrip("/") or 0)
CELERY_REDIS_URL = redis_db_url(_REDIS_DB)
CHANNELS_REDIS_URL = redis_db_url(_REDIS_DB + 1)
CACHE_REDIS_URL = redis_db_url(_REDIS_DB + 2)
# Live application state that must not be evicted with the cache: process heartbeats now,
# courier positions when dispatch lands.
STATE_REDIS_URL = redis_db_url(_REDIS_DB + 3)

# Prefix of every key the project writes to Redis (two deployments, or the tests, can share one).
REDIS_PREFIX: str = env.str("REDIS_PREFIX", default="mingchu")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": REDIS_PREFIX,
    }
}

# channels-redis blocks on BZPOPMIN for up to 5 s (its brpop_timeout) while a consumer idles.
# redis-py 8 lowered its default socket_timeout from None to 5 s, so the client gave up just
# as the server was about to answer, and every idle WebSocket closed with 1011 every ~5 s
# (django/channels_redis#422). An explicit read timeout well above the blocking pop keeps idle
# sockets open, and, unlike None, still fails when Redis really stops answering.
CHANNEL_LAYER_SOCKET_TIMEOUT = 15.0
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": CHANNELS_REDIS_URL,
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 5,
                }
            ],
            "prefix": f"{REDIS_PREFIX}:asgi",
            # Per channel, and every socket of one Daphne process shares one Redis list: 200
            # boards of a store take 200 slots per event, so 1000 dropped events (silently) as
            # soon as the server lagged five events behind (bench/board_events.py found it).
            "capacity": 20000,
            "expiry": 60,
        },
    }
}

# --- Celery ------------------------------------------------------------------------------

CELERY_BROKER_URL = CELERY_REDIS_URL
CELERY_RESULT_BACKEND = CELERY_REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_RESULT_EXPIRES = 3600
# acks_late is opted into per task (only idempotent tasks); the default stays early ack.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "global_keyprefix": f"{REDIS_PREFIX}:"}
# How often the accept-deadline sweep runs: an unanswered paid order is rejected at most this
# many seconds after its deadline (ORDER_ACCEPT_DEADLINE_MINUTES).
ORDER_ACCEPT_SWEEP_SECONDS: float = env.float("ORDER_ACCEPT_SWEEP_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "sessions-clear-expired": {"task": "core.tasks.sessions_clear_expired", "schedule": 60.0 * 60},
    "store-ratings-refresh": {"task": "delivery.tasks.store_ratings_refresh", "schedule": 60.0 * 60 * 24},
    "refund-requests-expire": {"task": "delivery.tasks.refund_requests_expire", "schedule": 60.0},
    # The live order board: unanswered orders, stores without a board, sold-out items coming back.
    "orders-auto-reject-due": {
        "task": "delivery.tasks.orders_auto_reject_due",
        "schedule": ORDER_ACCEPT_SWEEP_SECONDS,
    },
    "board-housekeeping": {"task": "delivery.tasks.board_housekeeping", "schedule": 60.0},
    # Every flag rule over every store, nightly at 03:30 in Shanghai (19:30 UTC; beat runs in
    # UTC): sliding windows need no trigger.
    "compliance-flags-nightly-sweep": {
        "task": "compliance.tasks.flags_nightly_sweep",
        "schedule": crontab(hour=19, minute=30),
    },
    # Health-certificate reminders (30/7/1 days); hourly, each reminder claimed once.
    "compliance-certificate-reminders": {
        "task": "compliance.tasks.health_certificate_reminders_send",
        "schedule": 60.0 * 60,
    },
    "inspection-grades-finalise": {
        "task": "compliance.inspections.tasks.inspection_grades_finalise",
        "schedule": 60.0 * 60,
    },
    "complaints-escalate": {"task": "compliance.cases.tasks.complaints_escalate", "schedule": 60.0},
    # A suspension with an end date lifts itself the day after its last day.
    "suspensions-ended-lift": {"task": "compliance.cases.tasks.suspensions_ended_lift", "schedule": 60.0 * 15},
    "sanctioned-stores-orders-settle": {
        "task": "compliance.cases.tasks.sanctioned_stores_orders_settle",
        "schedule": 60.0,
    },
}
# Largest accepted scan of a licence or certificate.
COMPLIANCE_SCAN_MAX_BYTES: int = env.int("COMPLIANCE_SCAN_MAX_BYTES", default=5 * 1024 * 1024)
# Days a merchant may contest a new inspection grade before it becomes final.
INSPECTION_CONTEST_DAYS: int = env.int("INSPECTION_CONTEST_DAYS", default=14)
# The grading scheme of inspections recorded on this platform (compliance.inspections.schemes).
INSPECTION_SCHEME: str = env.str("INSPECTION_SCHEME", default="cn")

# Where `make run` serves (the Procfile's web process reads the same variables).
WEB_HOST: str = env.str("WEB_HOST", default="127.0.0.1")
WEB_PORT: int = env.int("WEB_PORT", default=8000)

# --- The dispatcher process --------------------------------------------------------------

DISPATCHER_TICK_SECONDS: float = env.float("DISPATCHER_TICK_SECONDS", default=5.0)
# /healthz reports the dispatcher down when its last heartbeat is older than this.
DISPATCHER_HEARTBEAT_MAX_AGE: float = env.float("DISPATCHER_HEARTBEAT_MAX_AGE", default=30.0)
# Each dispatcher holds a zone for this long per lease and renews it every tick; a dead one's
# zones pass to another after at most this.
DISPATCHER_LEASE_SECONDS: float = env.float("DISPATCHER_LEASE_SECONDS", default=15.0)
# Couriers searched per store (KNN) and how far (metres).
DISPATCH_CANDIDATES: int = env.int("DISPATCH_CANDIDATES", default=12)
DISPATCH_RADIUS_M: int = env.int("DISPATCH_RADIUS_M", default=4000)
# An offer waits this long for the courier's answer; after DISPATCH_MAX_OFFERS declined or
# lapsed offers the order goes to the open pool that couriers near the store can grab.
OFFER_SECONDS: int = env.int("OFFER_SECONDS", default=30)
# The store's board hears how far an approaching courier is at most this often (seconds).
BOARD_APPROACH_SECONDS: float = env.float("BOARD_APPROACH_SECONDS", default=15.0)
DISPATCH_MAX_OFFERS: int = env.int("DISPATCH_MAX_OFFERS", default=3)
# Location stream: accepted pings per courier at most once per this many seconds; positions
# older than COURIER_POSITION_MAX_AGE are not used to dispatch.
COURIER_PING_MIN_INTERVAL: float = env.float("COURIER_PING_MIN_INTERVAL", default=1.0)
COURIER_POSITION_MAX_AGE: int = env.int("COURIER_POSITION_MAX_AGE", default=120)
# The diner's map hears the courier's position at most once per this many seconds.
TRACKING_THROTTLE_SECONDS: float = env.float("TRACKING_THROTTLE_SECONDS", default=2.0)
# Garbage-collector thresholds (gc.set_threshold) of a web process once it serves
# (core.realtime.server_gc_once): with thousands of sockets open, Python's defaults (700, 10, 10)
# promote each ping's short-lived objects and rescan every socket's objects in full collections
# every few seconds (bench/location_pings.py). Empty: Python's defaults are kept.
WEB_GC_THRESHOLDS: list[int] = env.list("WEB_GC_THRESHOLDS", cast=int, default=[50_000, 10, 10])

# --- Auth --------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:home"

# Login throttling: lock a username+IP pair after 5 failures for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Language, time, money ---------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
# Each language is named in itself, so the switcher reads right in either language.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE: str = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_TZ = True
# Money is integer cents (分) of this currency everywhere.
CURRENCY = "CNY"
# The platform's commission on a store's sales, in basis points, unless the store has its own.
PLATFORM_COMMISSION_BP: int = env.int("PLATFORM_COMMISSION_BP", default=1800)

# --- Static files and maps ---------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    # npm-installed front-end libraries (Leaflet, htmx), pinned in package-lock.json.
    ("vendor/leaflet", BASE_DIR / "node_modules" / "leaflet" / "dist"),
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Shared research data beside the checkout (MDRP instances, inspection fixtures, registries). It is
# never committed here; tests and benchmarks that need it skip cleanly when it is absent.
SHARED_DIR = Path(env.str("MINGCHU_SHARED", default=str(BASE_DIR.parent / "shared")))

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

MAP_TILE_URL: str = env.str("MAP_TILE_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION: str = env.str("MAP_TILE_ATTRIBUTION", default="&copy; OpenStreetMap contributors")

# --- API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Sessions for the web app; tokens (Authorization: Token <key>) for integrations.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mingchu API",
    "DESCRIPTION": "Open-kitchen food delivery: diners, restaurants, couriers, regulators.",
    "VERSION": "1",
    # Swagger UI served from our own static files: no CDN needed (or reachable offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging -----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Marketplace -------------------------------------------------------------------------

# The sandbox payment provider signs its webhooks with this key (HMAC-SHA256 over the raw body).
PAYMENT_SANDBOX_SECRET = _secret("PAYMENT_SANDBOX_SECRET", "dev-only-sandbox-webhook-secret")
# A webhook whose signed timestamp is older than this (or in the future by more) is refused.
PAYMENT_WEBHOOK_TOLERANCE_SECONDS: int = env.int("PAYMENT_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The geocoder: a geopy-style class (dotted path), and the gazetteer file the offline one reads.
GEOCODER_CLASS: str = env.str("GEOCODER_CLASS", default="delivery.geocoding.GazetteerGeocoder")
# Keyword arguments for the geocoder class, as JSON (a production provider's user_agent, api_key...).
GEOCODER_OPTIONS: dict[str, object] = env.json("GEOCODER_OPTIONS", default={})
GEOCODER_GAZETTEER: str = env.str("GEOCODER_GAZETTEER", default=str(BASE_DIR / "delivery" / "data" / "gazetteer.json"))
# First-version ETA: travel at this speed over the straight line times the detour factor (the
# dispatch issue refines it with learned prep times and courier supply).
COURIER_SPEED_KMH: float = env.float("COURIER_SPEED_KMH", default=15.0)
DETOUR_FACTOR: float = env.float("DETOUR_FACTOR", default=1.3)
# Minutes a courier is expected to need to reach the store, before dispatch measures it.
PICKUP_ALLOWANCE_MINUTES: int = env.int("PICKUP_ALLOWANCE_MINUTES", default=8)
# The ETA promised at placement reuses a store's learned prep time and courier wait for this
# many seconds (three queries per order otherwise); 0 reads them for every order.
ETA_STORE_ESTIMATE_SECONDS: float = env.float("ETA_STORE_ESTIMATE_SECONDS", default=5.0)

# After-sales: a diner may ask for a refund this long after delivery; the store must answer within
# REFUND_RESPONSE_HOURS, else the request is approved and refunded.
REFUND_REQUEST_WINDOW_HOURS: int = env.int("REFUND_REQUEST_WINDOW_HOURS", default=72)
# The live order board (delivery.services.board): a paid order not accepted within this many
# minutes is rejected and refunded; a store open without a connected board for this long, or
# that missed this many orders in a row, is paused until its owner resumes it.
ORDER_ACCEPT_DEADLINE_MINUTES: float = env.float("ORDER_ACCEPT_DEADLINE_MINUTES", default=5.0)
BOARD_OFFLINE_PAUSE_MINUTES: float = env.float("BOARD_OFFLINE_PAUSE_MINUTES", default=5.0)
BOARD_MISSED_ORDERS_PAUSE: int = env.int("BOARD_MISSED_ORDERS_PAUSE", default=3)
REFUND_RESPONSE_HOURS: int = env.int("REFUND_RESPONSE_HOURS", default=24)

# --- Demo city -----------------------------------------------------------------------------

# Password of every account `manage.py seed_demo` creates (a development convenience).
DEMO_PASSWORD: str = env.str("DEMO_PASSWORD", default="mingchu-demo-2026")
