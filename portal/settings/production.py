"""Production: HTTPS-only, secure cookies, HSTS. Passes ``manage.py check --deploy``.

Requires ``SECRET_KEY``, ``FIELD_ENCRYPTION_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL`` and
``REDIS_URL`` in the environment.
"""

import os

os.environ["DEBUG"] = "0"

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, FIELD_ENCRYPTION_KEY, PERSONAL_DATA_HASH_KEY, STORAGES, env

if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set in production.")
if not PERSONAL_DATA_HASH_KEY or PERSONAL_DATA_HASH_KEY == FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "PERSONAL_DATA_HASH_KEY must be set in production, to a secret other than "
        "FIELD_ENCRYPTION_KEY."
    )

# Persistent connections: opening one costs ~6 ms on PostgreSQL, more than a cheap page.
# Each gunicorn thread keeps its own (see README, "Deploying", for the connection budget);
# CONN_HEALTH_CHECKS (base) replaces one that died while idle.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if "replica" in DATABASES:  # DATABASE_REPLICA_URL (base): kept the same way
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
