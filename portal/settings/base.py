"""Base settings, read from the environment (twelve-factor, django-environ).

``DATABASE_URL`` unset → the embedded SQLite file; ``REDIS_URL`` unset → a local-memory
cache and Celery tasks executed eagerly in-process. Set both and the same code runs on
PostgreSQL, Redis and real Celery workers.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-not-for-production-use-0123456789"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# How many reverse proxies (nginx, a load balancer) stand in front and append the address
# they received a request from to X-Forwarded-For. 0: clients connect directly and
# X-Forwarded-For is ignored. portal.http.client_ip() reads it for lockouts and throttles.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mptt",
    "axes",
    "csp",
    "portal",
    "practice",
    "volunteers",
    "activities",
    "orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy; Permissions-Policy and no-store (static files need neither).
    "csp.middleware.CSPMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.IdleSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ApplicationErrorMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
                "portal.context_processors.display",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Seconds a connection is kept for the next request (0: one per request; production keeps
# them, see production.py); a kept connection is checked before its first use in a request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a write is in progress; IMMEDIATE makes
    # writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: the statistics' aggregates over a province are estimated costly
    # enough to trigger it, and compiling took longer (~0.5 s) than running them
    # (docs/scaling.md). Pages are short queries; JIT never pays off here.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# A read replica of ``default`` (optional): the statistics read from it inside
# portal.db_router.reads_from_replica(); every write goes to ``default`` (docs/scaling.md).
# In tests it mirrors ``default`` (no database of its own is created).
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_ROUTERS: list[str] = []
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **env.db("DATABASE_REPLICA_URL"),
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    DATABASE_ROUTERS = ["portal.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            # A Redis that hangs must not hang the pages: they render without the cache.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Public pages for anonymous visitors, cached (portal/cache.py). They are invalidated
# exactly on every write, so the lifetime only bounds memory; 0 turns the page cache off.
PAGE_CACHE_SECONDS = env.int("PAGE_CACHE_SECONDS", default=3600)
# Figures computed from the data (portal.cache.versioned_value: the home page's whole-
# network counts) are kept under the same versions, for this long; 0 computes them on
# every request. Separate from the pages' switch: pages may be rendered live while the
# counts over the whole network are still read once per write.
FIGURES_CACHE_SECONDS = env.int("FIGURES_CACHE_SECONDS", default=3600)
PAGE_CACHE_ALIAS = "default"
# The release deployed (e.g. its commit): cached pages of another release are never
# served. Unset, a fingerprint of the source files stands for it; set it when several
# servers share one Redis, so they share the cached pages too.
PAGE_CACHE_RELEASE = env.str("RELEASE", default="")

AUTH_USER_MODEL = "practice.User"
AUTHENTICATION_BACKENDS = [
    # Refuses logins for a username+address that failed too often (pages, admin, API token).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Volunteers may log in with their mobile number as the username.
    "volunteers.auth.PhoneBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.http.client_ip"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A logged-in session ends after this long without a request (等保 level 2); the next page
# asks to log in again. API tokens expire this long after they were issued.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("SESSION_IDLE_MINUTES", default=30))
API_TOKEN_TTL = timedelta(days=env.int("API_TOKEN_DAYS", default=7))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Uploads. Form fields and JSON bodies stay under Django's 2.5 MB. A spreadsheet may be up
# to 5 MB (practice.spreadsheets.MAX_FILE_BYTES, checked by the views: a form error on the
# page, 413 on the API); up to that size it is read from memory, anything larger spools to a
# temporary file until the view refuses it. The proxy in front should cap bodies a little
# above (nginx: client_max_body_size 6m), and at 80m under /activities/ where a form carries
# up to ACTIVITY_PHOTOS_MAX photos (README, "Deploying").
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10

# Personal data at rest (phones now, ID numbers later) is encrypted with this key.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
# Keyed hashes of ID numbers and phones (uniqueness, lookup, login by phone): HMAC-SHA256
# with this key — a different secret from the encryption key. Changing it orphans every
# stored hash (``manage.py rehash_personal_data`` would be needed), so set it once.
PERSONAL_DATA_HASH_KEY = env.str("PERSONAL_DATA_HASH_KEY", default="")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous API call answers 401 with WWW-Authenticate.
        "portal.api.authentication.ExpiringTokenAuthentication",
        "portal.api.sessions.SessionAuthentication",
    ],
    # Per client address (portal.http.client_ip) or per account; the token endpoint counts
    # failed logins per address instead ("auth").
    "DEFAULT_THROTTLE_CLASSES": [
        "portal.api.throttling.AnonRateThrottle",
        "portal.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON nested at most 32 levels deep, refusals in the user's language.
    "DEFAULT_PARSER_CLASSES": [
        "portal.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Declares each operation's error responses (400/401/403/404/409/413/415/429).
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": "10/minute",
        "anon": "120/minute",
        "user": "1200/minute",
        # Public volunteer self-registration, per client address.
        "volunteer_register": "10/hour",
        # "Forgot password": code requests and reset attempts, per client address.
        "password_reset": "10/hour",
        "password_reset_confirm": "30/hour",
        # Public service requests (orders/): per client address and per phone number, the
        # requester's look-ups (code + phone) per address, and Open311 POSTs per API key.
        "order": "10/hour",
        "order_phone": "5/day",
        "order_track": "60/hour",
        "open311": "600/hour",
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Portal API",
    "DESCRIPTION": "REST API v1 of the civilization-practice network portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Ids in paths (portal.converters): 1 … the largest database id.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
    },
    "ENUM_NAME_OVERRIDES": {
        "UnitKindEnum": "practice.choices.UnitKind",
        "RoleEnum": "practice.choices.Role",
        "VolunteerStatusEnum": "volunteers.choices.VolunteerStatus",
    },
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "check-tree-integrity": {
        "task": "practice.tasks.check_tree_integrity",
        "schedule": crontab(hour=3, minute=17),
    },
    "purge-import-jobs": {
        "task": "portal.tasks.purge_import_jobs",
        "schedule": crontab(hour=3, minute=47),
    },
    "purge-export-jobs": {
        "task": "portal.tasks.purge_export_jobs",
        "schedule": crontab(hour=3, minute=52),
    },
    # The statistics' summary table against the records (superusers told when they differ).
    "check-activity-summary": {
        "task": "activities.tasks.check_activity_summary",
        "schedule": crontab(hour=2, minute=37),
    },
    # Requests not claimed or not delivered in time: marked once, the level above told.
    "mark-overdue-requests": {
        "task": "orders.tasks.mark_overdue_requests",
        "schedule": crontab(minute="*/15"),
    },
    # Outbox messages whose task was lost (the queue was down when they were written).
    "send-queued-messages": {
        "task": "portal.tasks.send_queued_messages",
        "schedule": crontab(minute="*"),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"personal_data": {"()": "portal.logging.PersonalDataFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["personal_data"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django-axes reports every start and every failed login at INFO; lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # fontTools' subsetter logs every glyph list of a certificate at INFO (~20 lines).
        "fontTools": {"level": "WARNING"},
    },
}

PORTAL_SITE_NAME = _("Civilization Practice Portal")
# The portal's public address, for links in text messages and emails (a tracking link),
# which are written outside any request. Production sets it (e.g. https://wmsj.example.gov.cn).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Content-Security-Policy (django-csp): scripts, styles, fonts and images come from our own
# static files only — no inline script, handler or style anywhere (the pages pass data with
# json_script and behaviour with data-* attributes read by static/portal/portal.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Bootstrap's and Swagger UI's stylesheets draw icons as data: SVG images.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Sent with every response by portal.middleware.SecurityHeadersMiddleware. Geolocation
# stays available to our own pages (finding the nearest station).
PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "autoplay": "()",
    "camera": "()",
    "display-capture": "()",
    "geolocation": "(self)",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": "()",
    "usb": "()",
}

# --- volunteers ---------------------------------------------------------------------------
# Points a confirmed hour of service earns where no unit above has set its own rate.
VOLUNTEER_POINTS_PER_HOUR = env.int("VOLUNTEER_POINTS_PER_HOUR", default=10)

# --- order — menu — deliver (orders/, docs/orders.md) -----------------------------------------
# Open requests one phone number may have at once (more are refused with 429).
ORDERS_OPEN_PER_PHONE = env.int("ORDERS_OPEN_PER_PHONE", default=3)
# A dispatched request not claimed within this many hours is overdue (as is one past its due date).
ORDERS_CLAIM_WITHIN_HOURS = env.int("ORDERS_CLAIM_WITHIN_HOURS", default=48)
# A rating at most this low reopens the case for the office to look at.
ORDERS_REVIEW_RATING_AT_MOST = 2

# --- the outbox: text messages and emails (portal.outbox, docs/sms.md, docs/notifications.md)
# The class that sends text messages: portal.sms.DevelopmentBackend only logs them (number
# masked) and keeps them in the outbox, readable in the admin; production names a provider's.
SMS_BACKEND = env.str("SMS_BACKEND", default="portal.sms.DevelopmentBackend")
# Emails go through Django's email framework: without EMAIL_HOST they are written to the
# log (the console backend) and kept in the outbox, readable in the admin.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
# A message still queued this long after it was written is sent by send_queued_messages.
OUTBOX_RESEND_AFTER_MINUTES = env.int(
    "OUTBOX_RESEND_AFTER_MINUTES", default=env.int("SMS_RESEND_AFTER_MINUTES", default=2)
)
# One-time codes (portal.otp): valid this long.
OTP_CODE_MINUTES = env.int("OTP_CODE_MINUTES", default=10)

# --- activities: sign-up and QR check-in (activities.attendance, docs/activities.md)
# Check-in opens this long before the start (and closes at the end); check-out is open
# from the start until this long after the end.
ACTIVITY_CHECKIN_EARLY_MINUTES = env.int("ACTIVITY_CHECKIN_EARLY_MINUTES", default=60)
ACTIVITY_CHECKOUT_LATE_MINUTES = env.int("ACTIVITY_CHECKOUT_LATE_MINUTES", default=120)
# When both the place and the phone give a position, check-in and check-out must be within
# this distance of the place (the activity's coordinates, else its unit's).
ACTIVITY_CHECKIN_RADIUS_METRES = env.int("ACTIVITY_CHECKIN_RADIUS_METRES", default=500)

# --- activities: photos (activities.photos, docs/activities.md)
# Photos per activity, bytes per upload (checked before decoding), and pixels per picture
# (a "decompression bomb" is refused from its header, before it is decoded). Uploads over
# FILE_UPLOAD_MAX_MEMORY_SIZE spool to a temporary file; the proxy's body cap
# (nginx client_max_body_size) must be a little above ACTIVITY_PHOTO_MAX_BYTES.
ACTIVITY_PHOTOS_MAX = env.int("ACTIVITY_PHOTOS_MAX", default=9)
ACTIVITY_PHOTO_MAX_BYTES = env.int("ACTIVITY_PHOTO_MAX_BYTES", default=8 * 1024 * 1024)
ACTIVITY_PHOTO_MAX_PIXELS = env.int("ACTIVITY_PHOTO_MAX_PIXELS", default=50_000_000)

# --- exports (portal.exports, docs/activities.md): up to this many rows an export is
# answered at once; above, it is written by a Celery task with a progress page.
EXPORT_INLINE_ROWS = env.int("EXPORT_INLINE_ROWS", default=2000)
