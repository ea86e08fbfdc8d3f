"""The public pages' cache (portal/cache.py): served to anonymous visitors without a query,
never stale after any write, never to staff, per language, safe for CSRF, and harmless
when the cache is down."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.core.cache import BaseCache, cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal import cache as page_cache
from portal.cache import NETWORK, bump, cache_public_page
from portal.errors import ValidationFailed
from portal.middleware import IdleSessionMiddleware
from practice import services, tree
from practice.choices import Role, UnitKind
from practice.models import Category, Unit
from tests.conftest import World
from tests.practice.test_spreadsheets import import_url, upload, xlsx

HIT, MISS = "hit", "miss"


@pytest.fixture(autouse=True)
def _page_cache_state() -> Iterator[None]:
    """Each test starts with no pending bump and no remembered outage."""
    page_cache._pending.clear()
    page_cache._failing = False
    yield
    page_cache._pending.clear()
    page_cache._failing = False


def visitor(language: str | None = None, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def live(url: str, language: str | None = None) -> Any:
    """The page rendered now, without the cache."""
    with override_settings(PAGE_CACHE_SECONDS=0):
        response = visitor(language).get(url)
    assert "X-Page-Cache" not in response
    return response


def public_pages(world: World) -> list[str]:
    units = [world.centre, world.town, world.town2, world.station, world.station2, world.point]
    return [
        "/",
        "/units/",
        "/units/?q=村",
        f"/units/?within={world.centre.pk}",
        *[f"/units/{unit.pk}/" for unit in units],
        f"/units/{world.station2.pk}/poster/",
    ]


def warm(urls: list[str]) -> None:
    """Request every page twice, so each is in the cache (the second a hit where cacheable)."""
    for url in urls:
        visitor().get(url)
        response = visitor().get(url)
        if response.status_code in (200, 410):
            assert response["X-Page-Cache"] == HIT, url


def assert_fresh(urls: list[str]) -> None:
    """What an anonymous visitor gets is exactly the page as it renders now."""
    for url in urls:
        served, now = visitor().get(url), live(url)
        assert served.status_code == now.status_code, url
        assert served.content == now.content, url


# --- writes, each through a service, the API and the pages -------------------------------------

# A write: changes the network; returns (url, text, shown) checks of what must show now.
Check = tuple[str, str, bool]
Write = Callable[[World, Any, Any], list[Check]]


def _created(world: World) -> list[Check]:
    return [(f"/units/{world.town2.pk}/", "四村站", True), ("/units/?q=四村", "四村站", True)]


def _renamed(world: World) -> list[Check]:
    return [
        (f"/units/{world.town.pk}/", "一村新站", True),
        (f"/units/{world.point.pk}/", "一村新站", True),  # among the point's ancestors
        ("/units/?q=村", "一村新站", True),
    ]


def _moved(world: World) -> list[Check]:
    return [
        (f"/units/{world.town2.pk}/", "二村站", True),
        (f"/units/{world.town.pk}/", "二村站", False),
    ]


def _deactivated(world: World) -> list[Check]:
    return [
        (f"/units/{world.town.pk}/", "二村站", False),
        (f"/units/{world.station2.pk}/poster/", "二村站", False),  # 404 now
    ]


def _subtree_deactivated(world: World) -> list[Check]:
    return [
        (f"/units/{world.centre.pk}/", "一镇所", False),
        (f"/units/{world.station.pk}/", "甲县中心", True),  # the closed page points up
        ("/units/?q=村", "一村站", False),
    ]


def _reactivated(world: World) -> list[Check]:
    return [(f"/units/{world.town.pk}/", "二村站", True), ("/units/?q=村", "二村站", True)]


def _deleted(world: World) -> list[Check]:
    return [(f"/units/{world.station.pk}/", "一村点", False), ("/units/?q=村", "一村点", False)]


def _imported(world: World) -> list[Check]:
    return [(f"/units/{world.town2.pk}/", "四村站", True), ("/units/?q=四村", "四村点", True)]


def _deactivate_station2(world: World) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.station2, active=False)


def service_create(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_create(
        actor=world.coordinator, parent=world.town2, name="四村站", kind=UnitKind.STATION
    )
    return _created(world)


def service_edit(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_update(actor=world.coordinator, unit=world.station, data={"name": "一村新站"})
    return _renamed(world)


def service_move(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_move(actor=world.coordinator, unit=world.station2, parent=world.town2)
    return _moved(world)


def service_deactivate(world: World, api: Any, browser: Any) -> list[Check]:
    _deactivate_station2(world)
    return _deactivated(world)


def service_deactivate_subtree(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_deactivate_subtree(actor=world.coordinator, unit=world.town)
    return _subtree_deactivated(world)


def service_reactivate(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_set_active(actor=world.coordinator, unit=world.station2, active=True)
    return _reactivated(world)


def service_delete(world: World, api: Any, browser: Any) -> list[Check]:
    services.unit_delete(actor=world.coordinator, unit=world.point)
    return _deleted(world)


def service_import_rows(world: World, api: Any, browser: Any) -> list[Check]:
    rows = [
        tree.UnitRow(row=2, parent="", fields={"name": "四村站", "kind": UnitKind.STATION}),
        tree.UnitRow(row=3, parent="四村站", fields={"name": "四村点", "kind": UnitKind.POINT}),
    ]
    services.unit_import_rows(actor=world.coordinator, parent=world.town2, rows=rows)
    return _imported(world)


def service_import_tree(world: World, api: Any, browser: Any) -> list[Check]:
    spec = tree.NodeSpec(
        {"name": "四村站", "kind": UnitKind.STATION},
        [tree.NodeSpec({"name": "四村点", "kind": UnitKind.POINT})],
    )
    services.unit_import_tree(actor=world.coordinator, parent=world.town2, spec=spec)
    return _imported(world)


def service_import_county(world: World, api: Any, browser: Any) -> list[Check]:
    spec = tree.NodeSpec(
        {"name": "丙县中心", "kind": UnitKind.CENTRE},
        [tree.NodeSpec({"name": "丙镇所", "kind": UnitKind.INSTITUTE})],
    )
    services.unit_import_tree(actor=world.superuser, parent=None, spec=spec)
    return [("/", "丙县中心", True), ("/units/", "丙县中心", True)]


def _api_ok(response: Any) -> None:
    assert response.status_code in (200, 201, 204), response.content


def api_create(world: World, api: Any, browser: Any) -> list[Check]:
    body = {"parent": world.town2.pk, "name": "四村站", "kind": UnitKind.STATION}
    _api_ok(api(world.coordinator).post("/api/v1/units/", body))
    return _created(world)


def api_edit(world: World, api: Any, browser: Any) -> list[Check]:
    _api_ok(
        api(world.coordinator).patch(f"/api/v1/units/{world.station.pk}/", {"name": "一村新站"})
    )
    return _renamed(world)


def api_move(world: World, api: Any, browser: Any) -> list[Check]:
    body = {"parent": world.town2.pk}
    _api_ok(api(world.coordinator).patch(f"/api/v1/units/{world.station2.pk}/", body))
    return _moved(world)


def api_deactivate(world: World, api: Any, browser: Any) -> list[Check]:
    body = {"is_active": False}
    _api_ok(api(world.coordinator).patch(f"/api/v1/units/{world.station2.pk}/", body))
    return _deactivated(world)


def api_deactivate_subtree(world: World, api: Any, browser: Any) -> list[Check]:
    body = {"is_active": False, "cascade": True}
    _api_ok(api(world.coordinator).patch(f"/api/v1/units/{world.town.pk}/", body))
    return _subtree_deactivated(world)


def api_reactivate(world: World, api: Any, browser: Any) -> list[Check]:
    body = {"is_active": True}
    _api_ok(api(world.coordinator).patch(f"/api/v1/units/{world.station2.pk}/", body))
    return _reactivated(world)


def api_delete(world: World, api: Any, browser: Any) -> list[Check]:
    _api_ok(api(world.coordinator).delete(f"/api/v1/units/{world.point.pk}/"))
    return _deleted(world)


def api_import(world: World, api: Any, browser: Any) -> list[Check]:
    content = xlsx([None, "四村站", "实践站"], ["四村站", "四村点", "实践点"])
    response = api(world.coordinator).post(
        f"/api/v1/units/{world.town2.pk}/import/", {"file": upload(content)}, format="multipart"
    )
    _api_ok(response)
    return _imported(world)


def _page_ok(response: Any) -> None:
    assert response.status_code == 302, response.content.decode()[:2000]


def page_create(world: World, api: Any, browser: Any) -> list[Check]:
    url = reverse("unit-create", args=[world.town2.pk])
    _page_ok(browser(world.coordinator).post(url, {"name": "四村站", "kind": "station"}))
    return _created(world)


def page_edit(world: World, api: Any, browser: Any) -> list[Check]:
    url = reverse("unit-edit", args=[world.station.pk])
    _page_ok(browser(world.coordinator).post(url, {"name": "一村新站", "kind": "station"}))
    return _renamed(world)


def page_move(world: World, api: Any, browser: Any) -> list[Check]:
    url = reverse("unit-move", args=[world.station2.pk])
    _page_ok(browser(world.coordinator).post(url, {"parent": world.town2.pk}))
    return _moved(world)


def page_deactivate(world: World, api: Any, browser: Any) -> list[Check]:
    _page_ok(browser(world.coordinator).post(reverse("unit-deactivate", args=[world.station2.pk])))
    return _deactivated(world)


def page_deactivate_subtree(world: World, api: Any, browser: Any) -> list[Check]:
    url = reverse("unit-deactivate-subtree", args=[world.town.pk])
    _page_ok(browser(world.coordinator).post(url, {"expected": "4"}))
    return _subtree_deactivated(world)


def page_reactivate(world: World, api: Any, browser: Any) -> list[Check]:
    _page_ok(browser(world.coordinator).post(reverse("unit-reactivate", args=[world.station2.pk])))
    return _reactivated(world)


def page_delete(world: World, api: Any, browser: Any) -> list[Check]:
    _page_ok(browser(world.coordinator).post(reverse("unit-delete", args=[world.point.pk])))
    return _deleted(world)


def page_import_job(world: World, api: Any, browser: Any) -> list[Check]:
    client = browser(world.coordinator)
    content = xlsx([None, "四村站", "实践站"], ["四村站", "四村点", "实践点"])
    preview = client.post(import_url(world.town2), {"file": upload(content)}, follow=True)
    job = preview.context["job"]
    _page_ok(client.post(reverse("unit-import-confirm", args=[world.town2.pk, job.pk])))
    job.refresh_from_db()
    assert job.status == "done", job.error
    return _imported(world)


WRITES: list[Write] = [
    service_create,
    service_edit,
    service_move,
    service_deactivate,
    service_deactivate_subtree,
    service_reactivate,
    service_delete,
    service_import_rows,
    service_import_tree,
    service_import_county,
    api_create,
    api_edit,
    api_move,
    api_deactivate,
    api_deactivate_subtree,
    api_reactivate,
    api_delete,
    api_import,
    page_create,
    page_edit,
    page_move,
    page_deactivate,
    page_deactivate_subtree,
    page_reactivate,
    page_delete,
    page_import_job,
]
# These start from 二村站 deactivated.
REACTIVATIONS = {service_reactivate, api_reactivate, page_reactivate}


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__ for w in WRITES])
def test_no_cached_page_is_stale_after_a_write(
    world: World,
    api: Any,
    browser_client: Any,
    write: Write,
    django_capture_on_commit_callbacks: Any,
) -> None:
    if write in REACTIVATIONS:
        with django_capture_on_commit_callbacks(execute=True):
            _deactivate_station2(world)
        world.refresh()
    pages = public_pages(world)
    warm(pages)
    with django_capture_on_commit_callbacks(execute=True):
        checks = write(world, api, browser_client)
    browser_client(None)  # the page writes' client is logged out again
    for url, text, shown in checks:
        assert (text in visitor().get(url).content.decode()) is shown, (url, text)
    assert_fresh(pages + [url for url, _text, _shown in checks])


def test_a_write_that_commits_shows_at_once(transactional_db: Any, world: World) -> None:
    """Without the test's surrounding transaction: the bump runs when the service commits."""
    url = f"/units/{world.town2.pk}/"
    warm([url])
    services.unit_create(
        actor=world.coordinator, parent=world.town2, name="四村站", kind=UnitKind.STATION
    )
    response = visitor().get(url)
    assert response["X-Page-Cache"] == MISS
    assert "四村站" in response.content.decode()


def test_a_rolled_back_write_does_not_invalidate(transactional_db: Any, world: World) -> None:
    url = f"/units/{world.town2.pk}/"
    warm([url])
    version = cache.get("page-version:network")

    def create_then_fail() -> None:
        with transaction.atomic():
            services.unit_create(
                actor=world.coordinator, parent=world.town2, name="四村站", kind=UnitKind.STATION
            )
            raise RuntimeError("the caller fails after the service")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert cache.get("page-version:network") == version
    assert visitor().get(url)["X-Page-Cache"] == HIT
    assert not Unit.objects.filter(name="四村站").exists()


def test_a_refused_write_does_not_invalidate(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ValidationFailed):
            services.unit_set_active(actor=world.coordinator, unit=world.town, active=False)
        services.unit_update(actor=world.coordinator, unit=world.town, data={"name": "一镇所"})
    assert callbacks == []  # refused (active sub-units), then a change that changes nothing


def test_role_changes_leave_the_public_pages_alone(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    """No public page shows who holds a role, so granting and revoking bump nothing."""
    url = f"/units/{world.station.pk}/"
    for user in (world.station_manager, world.town_manager, world.coordinator):
        assert user.username not in visitor().get(url).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        assignment = services.role_grant(
            actor=world.coordinator, user=world.recruit, unit=world.station, role=Role.MANAGER
        )
        services.role_revoke(actor=world.coordinator, assignment=assignment)
    assert callbacks == []


def test_a_category_changed_in_the_admin_shows_on_the_home_page(
    world: World, browser_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    category = Category.objects.filter(is_active=True).first()
    assert category is not None
    warm(["/"])
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_client(world.superuser).post(
            reverse("admin:practice_category_change", args=[category.pk]),
            {
                "code": category.code,
                "name": "新平台",
                "name_en": category.name_en,
                "sort_order": category.sort_order,
                "is_active": "on",
            },
        )
    assert response.status_code == 302
    browser_client(None)
    assert "新平台" in visitor().get("/").content.decode()
    assert_fresh(["/"])


# --- what is served from the cache, to whom -----------------------------------------------------


def test_an_anonymous_repeat_visit_runs_no_query(
    world: World, django_assert_num_queries: Any
) -> None:
    # 一村点 closed: its page (410) is among the pages.
    Unit.objects.filter(pk=world.point.pk).update(is_active=False)
    bump(NETWORK)
    for url in public_pages(world):
        first = visitor().get(url)
        assert first["X-Page-Cache"] == MISS, url
        with django_assert_num_queries(0):
            again = visitor().get(url)
        assert again["X-Page-Cache"] == HIT, url
        assert again.content == first.content, url


class CountingCache:
    """Wraps the cache, counting the operations (round trips) made through it."""

    def __init__(self, inner: BaseCache) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name in {"get", "get_many", "set", "add", "incr", "delete", "set_many"}:

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attribute(*args, **kwargs)

            return counted
        return attribute


def test_a_hit_costs_one_cache_round_trip(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The versions and the page are read together: a hit is one ``get_many``."""
    from django.core.cache import caches

    counting = CountingCache(caches[settings.PAGE_CACHE_ALIAS])
    monkeypatch.setattr(page_cache, "caches", {settings.PAGE_CACHE_ALIAS: counting})
    for url in public_pages(world):
        visitor().get(url)
        counting.calls.clear()
        assert visitor().get(url)["X-Page-Cache"] == HIT, url
        assert counting.calls == ["get_many"], url


def test_a_page_stored_at_an_older_version_is_replaced_in_place(world: World) -> None:
    warm(["/"])
    bump(NETWORK)
    assert visitor().get("/")["X-Page-Cache"] == MISS
    assert visitor().get("/")["X-Page-Cache"] == HIT


def test_a_closed_units_page_is_cached_with_its_status(world: World) -> None:
    Unit.objects.filter(pk=world.station2.pk).update(is_active=False)
    url = f"/units/{world.station2.pk}/"
    assert visitor().get(url).status_code == 410
    again = visitor().get(url)
    assert (again.status_code, again["X-Page-Cache"]) == (410, HIT)


def test_staff_always_get_the_live_page(
    world: World, browser_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Unit.objects.filter(pk=world.station2.pk).update(is_active=False)
    bump(NETWORK)
    url = f"/units/{world.town.pk}/"
    warm([url])
    staff = browser_client(world.coordinator)
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(url)
        assert len(queries) > 0
        assert "X-Page-Cache" not in response
        assert "二村站" in response.content.decode()  # the inactive unit, for staff
        assert "no-store" in response["Cache-Control"]
    # Nor does a staff visit put anything in the cache for the public.
    assert "二村站" not in visitor().get(url).content.decode()


def test_staff_pages_never_fill_the_cache(world: World, browser_client: Any) -> None:
    url = f"/units/{world.station.pk}/"
    browser_client(world.coordinator).get(url)
    assert visitor().get(url)["X-Page-Cache"] == MISS


def test_each_language_is_cached_separately(world: World) -> None:
    for language in ("zh-hans", "en", None):
        response = visitor(language).get("/")
        assert response["X-Page-Cache"] == (MISS if language else HIT)
    chinese, english = visitor().get("/"), visitor("en").get("/")
    assert (chinese["X-Page-Cache"], english["X-Page-Cache"]) == (HIT, HIT)
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert '<html lang="en">' in english.content.decode()
    assert (chinese["Content-Language"], english["Content-Language"]) == ("zh-hans", "en")


def test_the_query_string_is_part_of_the_key_in_any_order(world: World) -> None:
    visitor().get("/units/?kind=station&q=村")
    assert visitor().get("/units/?q=村&kind=station")["X-Page-Cache"] == HIT
    assert visitor().get("/units/?q=一&kind=station")["X-Page-Cache"] == MISS
    # An empty parameter is not no parameter: the form shows as submitted.
    assert visitor().get("/units/?q=")["X-Page-Cache"] == MISS
    assert visitor().get("/units/")["X-Page-Cache"] == MISS


def test_the_poster_is_cached_per_host(world: World) -> None:
    """The poster prints the page's absolute address: another host is another page."""
    url = f"/units/{world.station.pk}/poster/"
    visitor().get(url)
    other = visitor().get(url, HTTP_HOST="localhost")
    assert other["X-Page-Cache"] == MISS
    assert f"http://localhost/units/{world.station.pk}/" in other.content.decode()
    assert f"http://testserver/units/{world.station.pk}/" in visitor().get(url).content.decode()


def test_cached_pages_keep_the_security_and_vary_headers(world: World) -> None:
    first = visitor().get("/")
    again = visitor().get("/")
    assert again["X-Page-Cache"] == HIT
    for header in (
        "Content-Security-Policy",
        "Permissions-Policy",
        "Content-Type",
        "Content-Language",
        "X-Frame-Options",
        "X-Content-Type-Options",
    ):
        assert again.get(header) == first.get(header), header
    vary = {v.strip() for v in again["Vary"].split(",")}
    assert {"Cookie", "Accept-Language"} <= vary
    assert "Set-Cookie" not in again and not again.cookies


def test_a_visitor_with_a_message_gets_the_live_page(world: World) -> None:
    visitor().get("/")
    client = visitor()
    client.force_login(world.coordinator)
    session = client.session  # idle for an hour: the next request logs out, with a message
    session[IdleSessionMiddleware.LAST_REQUEST] = int(time.time()) - 3600
    session.save()
    response = client.get("/")
    assert "X-Page-Cache" not in response
    assert "alert-info" in response.content.decode()
    again = visitor().get("/")
    assert again["X-Page-Cache"] == HIT
    assert "alert-info" not in again.content.decode()  # the page was not stored with it


def test_posts_are_never_served_from_the_cache(world: World) -> None:
    visitor().get("/")
    response = visitor().post("/")
    assert "X-Page-Cache" not in response


def test_a_zero_lifetime_turns_the_cache_off(world: World) -> None:
    with override_settings(PAGE_CACHE_SECONDS=0):
        visitor().get("/")
        assert "X-Page-Cache" not in visitor().get("/")
    assert visitor().get("/")["X-Page-Cache"] == MISS


@pytest.mark.parametrize("page", ["/", "station"])
def test_with_the_page_cache_off_figures_are_still_counted_once_per_write(
    world: World, page: str, django_capture_on_commit_callbacks: Any
) -> None:
    url = page if page == "/" else world.station.get_absolute_url()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert visitor().get(url).status_code == 200
        return len(ctx.captured_queries)

    with override_settings(PAGE_CACHE_SECONDS=0):
        first, second = queries(), queries()
        assert second < first  # the counts were kept under the versions
        with django_capture_on_commit_callbacks(execute=True):
            services.unit_update(
                actor=world.coordinator, unit=world.station, data={"address": "新地址 1 号"}
            )
        assert queries() == first  # a write: counted again, once
        assert queries() == second
        with override_settings(FIGURES_CACHE_SECONDS=0):
            assert queries() == first  # figures off too: counted on every request
            assert queries() == first


# --- what is never stored -------------------------------------------------------------------


def _anonymous_get(path: str = "/probe/") -> HttpRequest:
    request = RequestFactory().get(path)
    request.user = AnonymousUser()
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _stored_after_two_calls(view: Callable[[HttpRequest], HttpResponse]) -> bool:
    wrapped = cache_public_page(NETWORK)(view)
    wrapped(_anonymous_get())
    return wrapped(_anonymous_get()).get("X-Page-Cache") == HIT


def test_pages_with_a_csrf_token_cookies_messages_or_errors_are_not_stored(db: Any) -> None:
    def plain(request: HttpRequest) -> HttpResponse:
        return HttpResponse("plain")

    def with_token(request: HttpRequest) -> HttpResponse:
        return HttpResponse(get_token(request))

    def with_cookie(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("cookie")
        response.set_cookie("seen", "1")
        return response

    def with_message(request: HttpRequest) -> HttpResponse:
        messages.info(request, "hello")
        return HttpResponse("message")

    def with_session(request: HttpRequest) -> HttpResponse:
        request.session["seen"] = True
        return HttpResponse("session")

    def not_found(request: HttpRequest) -> HttpResponse:
        return HttpResponse("missing", status=404)

    def private(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("private")
        response["Cache-Control"] = "private"
        return response

    assert _stored_after_two_calls(plain)
    for view in (with_token, with_cookie, with_message, with_session, not_found, private):
        cache.clear()
        assert not _stored_after_two_calls(view), view.__name__


def test_a_view_needs_the_namespaces_it_shows() -> None:
    with pytest.raises(ValueError, match="namespaces"):
        cache_public_page()


# --- CSRF: no visitor's token is ever served to another ----------------------------------------


def test_public_pages_carry_no_csrf_token_and_set_no_cookie(world: World) -> None:
    for url in public_pages(world):
        response = visitor().get(url)
        assert "csrfmiddlewaretoken" not in response.content.decode(), url
        assert not response.cookies, url


def test_language_switch_and_login_work_after_cached_pages(world: World) -> None:
    from tests.factories import PASSWORD

    visitor().get("/")  # someone else's visit fills the cache
    client = visitor(enforce_csrf_checks=True)
    page = client.get("/")
    assert page["X-Page-Cache"] == HIT
    assert 'action="/i18n/setlang/" method="get"' in page.content.decode()
    switched = client.get("/i18n/setlang/", {"language": "en", "next": "/units/?q=村"})
    assert (switched.status_code, switched["Location"]) == (302, "/units/?q=%E6%9D%91")
    assert client.get("/units/?q=村")["Content-Language"] == "en"
    assert client.get("/")["Content-Language"] == "en"
    client.get("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert client.get("/")["Content-Language"] == "zh-hans"
    # The login form works with this visitor's own token.
    form = client.get(reverse("login"))
    token = form.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        reverse("login"),
        {
            "username": world.coordinator.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": token,
        },
    )
    assert (response.status_code, response["Location"]) == (302, reverse("dashboard"))
    # Logged in, the same address is live.
    assert "X-Page-Cache" not in client.get("/")


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)", ""],
)
def test_language_switch_goes_back_only_to_local_addresses(db: Any, next_url: str) -> None:
    response = visitor().get("/i18n/setlang/", {"language": "en", "next": next_url})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_language_switch_ignores_unknown_languages_and_refuses_posts(db: Any) -> None:
    response = visitor().get("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert visitor().post("/i18n/setlang/", {"language": "en"}).status_code == 405
    switched = visitor().get("/i18n/setlang/", {"language": "en", "next": "/"})
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "no-store" in switched["Cache-Control"]


# --- a cache that fails -----------------------------------------------------------------------


class BrokenCache(BaseCache):
    """Every operation fails, as a Redis that is down does."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the cache is down")

    add = get = set = touch = delete = has_key = incr = clear = get_many = _fail


BROKEN = {"default": {"BACKEND": f"{__name__}.BrokenCache"}}
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.mark.parametrize("caches", [BROKEN, UNREACHABLE_REDIS], ids=["raising", "redis-down"])
def test_pages_render_when_the_cache_is_down_and_warn_once(
    world: World, caplog: pytest.LogCaptureFixture, caches: dict[str, Any]
) -> None:
    with override_settings(CACHES=caches), caplog.at_level(logging.WARNING, "portal.cache"):
        for url in public_pages(world) * 2:
            response = visitor().get(url)
            assert response.status_code in (200, 410), url
            assert "X-Page-Cache" not in response
    warnings = [r for r in caplog.records if r.name == "portal.cache"]
    assert [r.getMessage() for r in warnings] == ["page cache unavailable; rendering pages live"]


def test_a_write_while_the_cache_is_down_invalidates_when_it_is_back(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"/units/{world.town2.pk}/"
    warm([url])
    with override_settings(CACHES=BROKEN), django_capture_on_commit_callbacks(execute=True):
        services.unit_create(
            actor=world.coordinator, parent=world.town2, name="四村站", kind=UnitKind.STATION
        )
    # The stored page (and the version it was stored under) outlived the outage.
    response = visitor().get(url)
    assert response["X-Page-Cache"] == MISS
    assert "四村站" in response.content.decode()


def test_a_lost_version_never_restarts_at_an_old_number(world: World) -> None:
    warm(["/"])
    cache.delete("page-version:network")
    assert visitor().get("/")["X-Page-Cache"] == MISS
    assert visitor().get("/")["X-Page-Cache"] == HIT
    cache.delete("page-version:network")
    assert visitor().get("/")["X-Page-Cache"] == MISS


# --- the release ------------------------------------------------------------------------------


def test_pages_of_another_release_are_never_served(world: World) -> None:
    warm(["/"])
    page_cache._release.cache_clear()
    try:
        with override_settings(PAGE_CACHE_RELEASE="next"):
            assert visitor().get("/")["X-Page-Cache"] == MISS
            assert visitor().get("/")["X-Page-Cache"] == HIT
    finally:
        page_cache._release.cache_clear()
    assert visitor().get("/")["X-Page-Cache"] == HIT  # the first release's page is still there


def test_without_a_release_the_source_files_stand_for_it(tmp_path: Path) -> None:
    template = tmp_path / "page.html"
    template.write_text("<p>one</p>")
    layout = {
        "BASE_DIR": tmp_path,
        "TEMPLATES": [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}],
        "LOCALE_PATHS": [],
        "PAGE_CACHE_RELEASE": "",
    }

    def release() -> str:
        page_cache._release.cache_clear()
        with override_settings(**layout):
            return page_cache._release()

    try:
        first = release()
        assert release() == first
        os.utime(template, ns=(0, template.stat().st_mtime_ns + 1_000_000_000))
        assert release() != first  # a deploy that changes a template
    finally:
        page_cache._release.cache_clear()
