"""Settings of the load section's servers: ``portal.settings.production`` as deployed, plus
what a benchmark on 127.0.0.1 needs. Refuses to load outside a bench run.

The differences from production, all set by ``portal.bench.load``:

- ``ROOT_URLCONF`` is ``portal.bench.urls``: the portal's URLs plus the hello-world view,
  the ceiling the pages are compared with. Nothing else routes to it.
- Static files are collected into the run's temporary directory (production's manifest
  storage needs them) and the cache keys carry the run's own prefix, so a shared Redis
  never mixes the bench's pages with a real portal's.
- The API throttles allow the load generator's volume from one address; they still run
  (a cache read and write per request), as in production.

For the uncached figures the load section sets ``PAGE_CACHE_SECONDS=0``, production's own
switch of the anonymous page cache (``portal.cache``).

Plain HTTP on 127.0.0.1 (``SECURE_SSL_REDIRECT=0``) and the keys come from the environment
as production reads them.
"""

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

if os.environ.get("PORTAL_BENCH_RUN") != "1":
    raise ImproperlyConfigured(
        "portal.bench.settings is for the load section of `manage.py bench` only."
    )

from portal.settings.production import *  # noqa: F403
from portal.settings.production import CACHES, REST_FRAMEWORK

ROOT_URLCONF = "portal.bench.urls"
STATIC_ROOT = Path(os.environ["PORTAL_BENCH_STATIC_ROOT"])
CACHES = {
    **CACHES,
    "default": {**CACHES["default"], "KEY_PREFIX": os.environ["PORTAL_BENCH_CACHE_PREFIX"]},
}
_rates: dict[str, Any] = dict(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])  # type: ignore[call-overload]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **_rates,
        "anon": "10000000/minute",
        "user": "10000000/minute",
    },
}
