"""Public pages cached for anonymous visitors, invalidated exactly by version numbers.

A page decorated with :func:`cache_public_page` names the *namespaces* of data it shows
(``NETWORK``: the units and the service platforms). Each namespace has a version number in
the cache; the services that write bump it with :func:`bump_on_commit`, so the bump happens
when — and only when — their transaction commits. A cached page is stored with the versions
it was rendered with and served only while they are still the current ones, so after a
write no request can get the old page again: the next one renders and stores the new page
(in the same key). The versions and the page are read in one round trip. Nothing is
deleted; old entries expire (``PAGE_CACHE_SECONDS``) or are evicted.

The key also holds the release (``PAGE_CACHE_RELEASE``, else a fingerprint of the source
files, so a deploy never serves pages rendered by the old code), the language, the display
mode (``portal.display``: standard or elder-friendly), the scheme
and host (the QR poster prints absolute addresses), the path and the query string with its
parameters in a canonical order.

Only anonymous GET/HEAD requests are served from and stored in the cache. Logged-in users
(staff) always get a live page. A response is stored only when it is a 200 (or the 410 of
a closed unit), sets no cookie, did not use the CSRF token or a CSP nonce, touched no
session data and queued no message; a request with messages waiting to be shown renders
live. A cache that fails (Redis down) never breaks a page: the page renders as if there
were no cache, and a warning is logged once per outage.

Namespaces:

- ``NETWORK`` — units (names, kinds, details, status, the tree and its counts) and the
  service platforms (categories). One global version: a unit page shows its ancestors,
  children and counts, the home page figures for the whole network, so any unit write may
  change any public page. Bumped by ``practice.services`` (every unit write and import)
  and by the admin's category pages.
- ``VOLUNTEERS`` — the volunteers and teams public pages count or list (a unit's teams
  and their members, the volunteer figures of the home and unit pages). Bumped by
  ``volunteers`` services whenever a volunteer or a team is written.
- ``ACTIVITIES`` — the activities the public pages show (the news feed of approved ones,
  the calendar of planned ones, an activity's page, the unit and home pages' sections):
  bumped on commit by every activity write (``activities.services``, ``activities.photos``,
  the sign-ups of ``activities.attendance``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from django.apps import apps
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import BaseCache, caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.cache import cc_delim_re
from django.utils.http import urlencode
from django.utils.translation import get_language

from portal.display import display_mode

__all__ = [
    "ACTIVITIES",
    "NETWORK",
    "ORDERS",
    "VOLUNTEERS",
    "bump",
    "bump_on_commit",
    "cache_public_page",
    "versioned_value",
]

logger = logging.getLogger(__name__)

NETWORK = "network"
VOLUNTEERS = "volunteers"
# The service menus and the requests the public pages show (a station's menu, its recent
# completed services and satisfaction, the transparency page): bumped by orders.services.
ORDERS = "orders"
# The activities public pages show (activities.public): bumped by every activity write.
ACTIVITIES = "activities"

# Statuses a public page may be cached with: the page, and a closed unit's 410 page.
CACHEABLE_STATUSES = frozenset({200, 410})
# Longer query strings are rendered live: no use caching them, and a key must stay small.
MAX_QUERY_LENGTH = 1024
# The header saying whether a page came from the cache (for the benchmark and for people).
STATUS_HEADER = "X-Page-Cache"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def cache_public_page(*namespaces: str) -> Callable[[View], View]:
    """Serve anonymous visitors the page from the cache, keyed by the versions of
    ``namespaces`` (the data the page shows)."""
    if not namespaces:
        raise ValueError("cache_public_page needs the namespaces of the data the page shows")

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not _may_use_cache(request):
                return view(request, *args, **kwargs)
            key, versions, stored = _lookup(request, namespaces)
            if stored is not None:
                response = _thaw(stored)
                response[STATUS_HEADER] = "hit"
                return response
            response = view(request, *args, **kwargs)
            if versions is not None and _may_store(request, response):
                frozen = (versions, *_freeze(response))
                _call(lambda cache: cache.set(key, frozen, _timeout()))
                response[STATUS_HEADER] = "miss"
            return response

        return cast(View, wrapper)

    return decorator


def versioned_value(name: str, namespaces: tuple[str, ...], compute: Callable[[], T]) -> T:
    """A figure computed from the data of ``namespaces`` (e.g. the whole network's counts),
    kept under the same versions as the pages: computed once after each write, exact
    always. Staff pages and API lists may use it too. Without a reachable cache (or with
    ``FIGURES_CACHE_SECONDS = 0``) it is computed every time."""
    lifetime = int(settings.FIGURES_CACHE_SECONDS)
    if lifetime <= 0:
        return compute()
    versions = _versions(namespaces)
    if versions is None:
        return compute()
    key = f"value:{_release()}:{name}:{'.'.join(str(v) for v in versions)}"
    found = _call(lambda cache: cache.get(key))
    if found is not None:
        return cast(T, found)
    value = compute()
    _call(lambda cache: cache.set(key, value, lifetime))
    return value


def bump_on_commit(*namespaces: str, using: str | None = None) -> None:
    """Invalidate the pages showing ``namespaces`` when the current transaction commits
    (at once outside a transaction; never if it rolls back)."""
    transaction.on_commit(functools.partial(bump, *namespaces), using=using)


def bump(*namespaces: str) -> None:
    """Invalidate, now, every cached page showing any of ``namespaces``.

    If the cache cannot be reached, this process retries at its next use of the cache (and
    the pages expire after ``PAGE_CACHE_SECONDS`` in any case)."""
    _pending.update(namespaces)
    _retry_pending()


# --- the key --------------------------------------------------------------------------------


def _timeout() -> int:
    return int(settings.PAGE_CACHE_SECONDS)


def _may_use_cache(request: HttpRequest) -> bool:
    if _timeout() <= 0 or request.method not in ("GET", "HEAD"):
        return False
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        return False
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return False
    # A message waiting for this visitor (e.g. "you were logged out") is shown by a live
    # page; counting does not mark the messages as read.
    return not (hasattr(request, "_messages") and len(get_messages(request)))


def _page_key(request: HttpRequest) -> str:
    """The page's key: everything that selects the page except the data versions, which
    are stored with it (so a hit costs one cache round trip, not two)."""
    query = sorted(request.GET.lists(), key=lambda item: item[0])  # stable: values keep order
    query_string = urlencode(query, doseq=True)
    address = f"{request.scheme}://{request.get_host()}{request.path}?{query_string}"
    digest = hashlib.sha256(address.encode()).hexdigest()
    # The display mode (standard or elder-friendly) changes the page as the language does.
    return f"page:{_release()}:{get_language()}:{display_mode(request)}:{digest}"


def _lookup(
    request: HttpRequest, namespaces: tuple[str, ...]
) -> tuple[str, tuple[int, ...] | None, Stored | None]:
    """The page's key, the current versions of ``namespaces`` (``None`` if the cache
    cannot be reached) and the stored page if it was rendered at exactly those versions
    — all read in one ``get_many``."""
    _retry_pending()
    key = _page_key(request)
    version_keys = [_version_key(ns) for ns in namespaces]
    found = _call(lambda cache: cache.get_many([*version_keys, key]))
    if found is None:
        return key, None, None
    versions = _complete_versions(found, version_keys)
    stored = found.get(key)
    if versions is None or stored is None or tuple(stored[0]) != versions:
        return key, versions, None
    return key, versions, cast(Stored, stored[1:])


def _version_key(namespace: str) -> str:
    return f"page-version:{namespace}"


def _versions(namespaces: tuple[str, ...]) -> tuple[int, ...] | None:
    """The current version of each namespace (one cache round trip when they exist)."""
    _retry_pending()
    keys = [_version_key(ns) for ns in namespaces]
    found = _call(lambda cache: cache.get_many(keys))
    if found is None:
        return None
    return _complete_versions(found, keys)


def _complete_versions(found: dict[str, Any], keys: list[str]) -> tuple[int, ...] | None:
    """The versions under ``keys`` in ``found``, starting any that do not exist yet."""
    for key in keys:
        if key not in found:
            value = _call(functools.partial(_start_version, key=key))
            if value is None:
                return None
            found[key] = value
    return tuple(int(found[key]) for key in keys)


def _start_version(cache: BaseCache, *, key: str) -> int:
    """A lost or never-set version starts anywhere at random, never back at a number whose
    pages may still be stored."""
    start = secrets.randbelow(2**62)
    if cache.add(key, start, None):
        return start
    value = cache.get(key)  # another process started it first
    if value is None:
        cache.set(key, start, None)
        return start
    return int(value)


# Namespaces whose bump could not reach the cache: retried before this process reads a
# version again, so no stale page it could have invalidated is served from here.
_pending: set[str] = set()


def _retry_pending() -> None:
    for namespace in list(_pending):
        if _call(functools.partial(_increment, key=_version_key(namespace))) is None:
            return
        _pending.discard(namespace)


def _increment(cache: BaseCache, *, key: str) -> bool:
    try:
        cache.incr(key)
    except ValueError:  # no version yet: any fresh start invalidates whatever was stored
        cache.add(key, secrets.randbelow(2**62), None)
    return True


@functools.cache
def _release() -> str:
    """What rendered the pages: ``PAGE_CACHE_RELEASE`` (e.g. the commit deployed), else a
    fingerprint of the project's source files (Python, templates, catalogs) — their sizes
    and modification times, read once per process."""
    if settings.PAGE_CACHE_RELEASE:
        return str(settings.PAGE_CACHE_RELEASE)
    base = Path(settings.BASE_DIR).resolve()
    roots = {Path(config.path).resolve() for config in apps.get_app_configs()}
    # The project's own apps, not the installed packages (a virtualenv may live in BASE_DIR).
    roots = {r for r in roots if r.is_relative_to(base) and "site-packages" not in r.parts}
    for template in settings.TEMPLATES:
        directories = cast(list[str | Path], template.get("DIRS", []))
        roots.update(Path(d).resolve() for d in directories)
    roots.update(Path(d).resolve() for d in settings.LOCALE_PATHS)
    digest = hashlib.sha256()
    for root in sorted(roots):
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(files):
                if not name.endswith((".py", ".html", ".txt", ".mo")):
                    continue
                path = Path(directory, name)
                try:
                    stat = path.stat()
                except OSError:  # removed while we looked
                    continue
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


# --- storing responses ------------------------------------------------------------------------


def _may_store(request: HttpRequest, response: HttpResponse) -> bool:
    if response.status_code not in CACHEABLE_STATUSES or response.streaming:
        return False
    if response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False  # a cookie, or a page carrying this visitor's CSRF token
    if getattr(request, "_csp_nonce", None):
        return False  # a nonce is for one response only
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return False
    if hasattr(request, "_messages") and len(get_messages(request)):
        return False
    cache_control = {
        part.split("=", 1)[0].strip().lower()
        for part in cc_delim_re.split(response.get("Cache-Control", ""))
    }
    return not cache_control & {"private", "no-store", "no-cache"}


Stored = tuple[int, list[tuple[str, str]], bytes]


def _freeze(response: HttpResponse) -> Stored:
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    headers = [(k, v) for k, v in response.items() if k.lower() != STATUS_HEADER.lower()]
    return response.status_code, headers, response.content


def _thaw(stored: Stored) -> HttpResponse:
    status, headers, content = stored
    response = HttpResponse(content, status=status)
    for name, value in headers:
        response[name] = value
    return response


# --- a cache that may be down ------------------------------------------------------------------

T = TypeVar("T")

# True while the cache is failing: the warning is logged once per outage, not per request.
_failing = False


def _call(operation: Callable[[BaseCache], T]) -> T | None:
    """``operation(cache)``, or ``None`` if the cache fails."""
    global _failing
    try:
        result = operation(caches[settings.PAGE_CACHE_ALIAS])
    except Exception:
        if not _failing:
            _failing = True
            logger.warning("page cache unavailable; rendering pages live", exc_info=True)
        return None
    if _failing:
        _failing = False
        logger.info("page cache available again")
    return result
