"""Settings modules, each loaded in a fresh interpreter with a controlled environment.

``portal.settings.base`` also reads ``.env`` without overwriting the environment, so a
variable meant to be "unset" is passed as an empty string: a developer's ``.env`` cannot
leak into these tests.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120

# Variables the settings (or deploy checks) read; each test sets the ones it needs.
SETTINGS_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    # Set in this process by the browser tests' Playwright fixture; ``check --deploy``
    # rejects it (async.E001), and no deployment has it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DEBUG",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "PERSONAL_DATA_HASH_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "CONN_MAX_AGE",
)

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "PERSONAL_DATA_HASH_KEY": secrets.token_urlsafe(48),
    "ALLOWED_HOSTS": "portal.example.gov.cn",
}

SHOW_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings
from django.core.cache import caches
from portal.celery import app
print(json.dumps({
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_class": type(caches["default"]).__name__,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "app_eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "backend": app.conf.result_backend,
    "debug": settings.DEBUG,
}))
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` in the project root, the environment cleaned of settings variables."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def settings_of(**env: str) -> dict[str, Any]:
    result = run(["-c", SHOW_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(values, dict)
    return values


def test_production_passes_check_deploy() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output, output
    assert "System check identified no issues" in output, output


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "PERSONAL_DATA_HASH_KEY"]
)
def test_production_refuses_to_start_without_its_keys(missing: str) -> None:
    result = run(["-c", "import django; django.setup()"], **{**PRODUCTION, missing: ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    assert missing in result.stderr, result.stderr


def test_production_forces_debug_off() -> None:
    values = settings_of(**PRODUCTION, DEBUG="1", REDIS_URL="")
    assert values["debug"] is False


def test_base_settings_refuse_to_start_without_secret_key_when_debug_is_off() -> None:
    result = run(
        ["-c", "import django; django.setup()"],
        DJANGO_SETTINGS_MODULE="portal.settings.base",
        DEBUG="0",
        SECRET_KEY="",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    assert "SECRET_KEY must be set" in result.stderr, result.stderr


def test_without_redis_the_cache_is_local_memory_and_celery_is_eager() -> None:
    values = settings_of(
        DJANGO_SETTINGS_MODULE="portal.settings.base",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        REDIS_URL="",
    )
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["cache_class"] == "LocMemCache"
    assert values["eager"] is True
    assert values["app_eager"] is True
    assert values["broker"] == "memory://"


def test_with_redis_the_cache_is_redis_and_celery_uses_the_broker() -> None:
    url = "redis://127.0.0.1:6379/7"  # nothing connects: settings only
    values = settings_of(
        DJANGO_SETTINGS_MODULE="portal.settings.base",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        REDIS_URL=url,
    )
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["cache_class"] == "RedisCache"
    assert values["eager"] is False
    assert values["app_eager"] is False
    assert values["broker"] == url
    assert values["backend"] == url


def test_the_test_run_uses_redis_exactly_when_redis_url_is_set() -> None:
    """This process's settings agree with the environment the suite was started in."""
    from django.conf import settings

    redis_url = os.environ.get("REDIS_URL", "")
    assert settings.CELERY_TASK_ALWAYS_EAGER is (not settings.REDIS_URL)
    if redis_url:
        assert redis_url == settings.REDIS_URL
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


SHOW_DATABASE = """
import json
import django
django.setup()
from django.conf import settings
database = settings.DATABASES["default"]
print(json.dumps([database["CONN_MAX_AGE"], database["CONN_HEALTH_CHECKS"]]))
"""


def database_connections(**env: str) -> list[Any]:
    result = run(["-c", SHOW_DATABASE], **env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(values, list)
    return values


def test_production_keeps_database_connections_and_checks_them() -> None:
    """Opening a PostgreSQL connection per request cost more than a cheap page (issue 6)."""
    assert database_connections(**PRODUCTION, REDIS_URL="") == [60, True]
    assert database_connections(**PRODUCTION, REDIS_URL="", CONN_MAX_AGE="15") == [15, True]


def test_elsewhere_a_connection_lasts_one_request_unless_configured() -> None:
    base = {
        "DJANGO_SETTINGS_MODULE": "portal.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    assert database_connections(**base) == [0, True]
    assert database_connections(**base, CONN_MAX_AGE="60") == [60, True]
