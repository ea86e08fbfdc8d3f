"""Test settings: ``base`` with fast hashing and fixed keys; services as the environment says."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-used-anywhere-else-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEY = "Z1dLaE9uY0x3Q2JvX3Rlc3Qta2V5LWZvci10ZXN0cyE="
# Throttling is tested explicitly with its own rates; keep the rest of the suite unthrottled.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "auth": "1000/minute",
        "anon": "10000/minute",
        "user": "10000/minute",
        "open311": "10000/minute",
        "order": "10000/minute",
        "order_phone": "10000/minute",
        "order_track": "10000/minute",
    },
}

# Serve static files straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
