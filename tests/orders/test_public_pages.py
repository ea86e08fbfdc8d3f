"""The residents' pages: ordering at a station, following a request with its code and
phone, cancelling and rating it, the menu and the public record (公示) of a unit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from orders import services
from orders.choices import RequestStatus
from orders.models import MenuItem, ServiceRequest
from practice import services as practice_services
from tests.orders.conftest import RESIDENT_PHONE, OrdersWorld, advance, new_request
from tests.querycount import queries_of

RATES = {"order": "100/hour", "order_phone": "100/day", "order_track": "100/hour"}


@pytest.fixture(autouse=True)
def _order_rates(settings: Any) -> None:
    rates = {**settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}), **RATES}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _rates(settings: Any, **scopes: str) -> None:
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _order(ow: OrdersWorld, **overrides: Any) -> dict[str, Any]:
    data = {
        "item": str(ow.county_item.pk),
        "category": "",
        "description": "村里老人想看一场戏",
        "contact_name": "张大爷",
        "contact_phone": RESIDENT_PHONE,
        "desired_date": "",
        "website": "",
    }
    data.update(overrides)
    return data


def _order_url(ow: OrdersWorld) -> str:
    return f"/units/{ow.w.station.pk}/order/"


def _html(response: Any) -> str:
    return response.content.decode()


def zh(message: str) -> str:
    """``message`` as the (Chinese by default) pages show it."""
    with translation.override("zh-hans"):
        return translation.gettext(message)


# --- ordering ------------------------------------------------------------------------------


def test_order_page_shows_the_station_menu_by_platform(ow: OrdersWorld, client: Client) -> None:
    response = client.get(_order_url(ow))
    html = _html(response)
    assert response.status_code == 200
    assert "一村站" in html
    # The county's item and the station's own; never another county's.
    assert "文艺演出" in html and "广场舞教学" in html and "乙县送戏下乡" not in html
    assert 'value="other"' in html
    # The honeypot is there, hidden from people and from the keyboard.
    honeypot = re.search(r'<div class="visually-hidden" aria-hidden="true">.*?</div>', html, re.S)
    assert honeypot and 'name="website"' in honeypot.group(0)
    assert 'tabindex="-1"' in honeypot.group(0) and 'autocomplete="off"' in honeypot.group(0)
    # It carries a CSRF token: never stored in the page cache.
    assert "csrfmiddlewaretoken" in html
    assert "X-Page-Cache" not in client.get(_order_url(ow))
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_order_page_preselects_an_item(ow: OrdersWorld, client: Client) -> None:
    html = _html(client.get(f"{_order_url(ow)}?item={ow.station_item.pk}"))
    assert re.search(rf'value="{ow.station_item.pk}" autocomplete="off" checked', html)
    # Not on this station's menu, or nonsense: nothing chosen, no error.
    for wanted in (str(ow.other_county_item.pk), "abc", "99999999999999999999"):
        html = _html(client.get(f"{_order_url(ow)}?item={wanted}"))
        assert " checked" not in html


def test_a_closed_or_unknown_station_cannot_take_orders(ow: OrdersWorld, client: Client) -> None:
    practice_services.unit_set_active(actor=ow.w.coordinator, unit=ow.w.point, active=False)
    assert client.get(f"/units/{ow.w.point.pk}/order/").status_code == 410
    assert client.post(f"/units/{ow.w.point.pk}/order/", _order(ow)).status_code == 410
    assert client.get("/units/999999/order/").status_code == 404
    assert not ServiceRequest.objects.exists()


def test_the_whole_resident_path_order_track_cancel(ow: OrdersWorld) -> None:
    client = Client()
    response = client.post(_order_url(ow), _order(ow))
    assert response.status_code == 302
    created = ServiceRequest.objects.get()
    assert created.unit == ow.w.station and created.menu_item == ow.county_item
    assert created.channel == "web" and created.contact_name == "张大爷"
    # The confirmation: the code in large type and the way to follow it.
    done = client.get(response["Location"])
    html = _html(done)
    assert created.tracking_code in html and 'id="tracking-code"' in html
    assert f'href="/track/{created.tracking_code}/"' in html
    # This browser proved the code when ordering: the tracking page opens at once.
    page = client.get(f"/track/{created.tracking_code}/")
    assert "status-words" in _html(page) and "cancel-form" in _html(page)
    response = client.post(f"/track/{created.tracking_code}/", {"action": "cancel"})
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.status == RequestStatus.CANCELLED
    after = _html(client.get(f"/track/{created.tracking_code}/"))
    assert "cancel-form" not in after and "rate-form" not in after


def test_tracking_from_another_browser_asks_for_the_phone(ow: OrdersWorld) -> None:
    created = new_request(ow)
    code = created.tracking_code
    client = Client()
    # The start page leads to the code's page (lower case and spaces forgiven).
    response = client.get("/track/", {"code": f" {code[:4].lower()} {code[4:]} "})
    assert response.status_code == 302 and response["Location"] == f"/track/{code}/"
    assert "track-phone" in _html(client.get(f"/track/{code}/"))
    # The phone goes in a POST body, never in an address.
    html = _html(client.get(f"/track/{code}/"))
    assert 'method="post"' in html
    response = client.post(f"/track/{code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert response.status_code == 302 and RESIDENT_PHONE not in response["Location"]
    page = client.get(f"/track/{code}/")
    html = _html(page)
    assert page.status_code == 200 and "status-words" in html
    assert "cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    assert RESIDENT_PHONE not in html


def test_wrong_phone_or_code_gets_one_neutral_answer(ow: OrdersWorld) -> None:
    created = new_request(ow)
    other = new_request(ow, contact_phone="13900001111")
    client = Client()
    answers = []
    for code, phone in (
        (created.tracking_code, "13900001111"),  # another request's phone
        (other.tracking_code, RESIDENT_PHONE),  # another code
        ("ZZZZZZZZ", RESIDENT_PHONE),  # no such code
        (created.tracking_code, "not a phone"),
    ):
        response = client.post(f"/track/{code}/", {"action": "lookup", "phone": phone})
        assert response.status_code == 404
        html = _html(response)
        assert zh("No request matches this code and phone number.") in html
        assert "status-words" not in html
        answers.append(response.status_code)
    # Proving one code proves nothing about another.
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert "status-words" not in _html(client.get(f"/track/{other.tracking_code}/"))
    client.post(f"/track/{other.tracking_code}/", {"action": "cancel"})
    other.refresh_from_db()
    assert other.status == RequestStatus.SUBMITTED


def test_delivered_request_is_rated_and_closed(ow: OrdersWorld) -> None:
    created = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    client = Client()
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    page = _html(client.get(f"/track/{created.tracking_code}/"))
    assert "rate-form" in page and "cancel-form" not in page
    # The timeline: no staff or volunteer name, the public note of the delivery.
    assert "王志愿" not in page and "李队长" not in page
    assert "演出一场，观众很多" in page
    bad = client.post(f"/track/{created.tracking_code}/", {"action": "rate", "rating": "9"})
    assert bad.status_code == 400
    response = client.post(
        f"/track/{created.tracking_code}/",
        {"action": "rate", "rating": "5", "comment": "很好"},
    )
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.status == RequestStatus.CLOSED and created.rating == 5
    assert not created.needs_review
    assert "rate-form" not in _html(client.get(f"/track/{created.tracking_code}/"))


def test_a_low_rating_asks_the_office_to_look(ow: OrdersWorld) -> None:
    created = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    client = Client()
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    client.post(f"/track/{created.tracking_code}/", {"action": "rate", "rating": "1"})
    created.refresh_from_db()
    assert created.status == RequestStatus.CLOSED and created.needs_review


def test_actions_need_the_phone_first(ow: OrdersWorld) -> None:
    created = new_request(ow)
    response = Client().post(f"/track/{created.tracking_code}/", {"action": "cancel"})
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.status == RequestStatus.SUBMITTED


def test_cancel_is_refused_once_claimed(ow: OrdersWorld) -> None:
    created = advance(ow, new_request(ow), RequestStatus.CLAIMED)
    client = Client()
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert "cancel-form" not in _html(client.get(f"/track/{created.tracking_code}/"))
    response = client.post(f"/track/{created.tracking_code}/", {"action": "cancel"}, follow=True)
    created.refresh_from_db()
    assert created.status == RequestStatus.CLAIMED
    assert "alert-danger" in _html(response)


def test_something_else_needs_a_platform_and_a_description(ow: OrdersWorld) -> None:
    client = Client()
    response = client.post(_order_url(ow), _order(ow, item="other", description=""))
    assert response.status_code == 400
    assert not ServiceRequest.objects.exists()
    response = client.post(
        _order_url(ow),
        _order(ow, item="other", category=str(ow.category.pk), description="帮忙修理收音机"),
    )
    assert response.status_code == 302
    created = ServiceRequest.objects.get()
    assert created.menu_item is None and created.category == ow.category


def test_errors_are_shown_on_the_form(ow: OrdersWorld, client: Client) -> None:
    for wrong in ({"contact_name": ""}, {"contact_phone": "123"}, {"desired_date": "2000-01-01"}):
        response = client.post(_order_url(ow), _order(ow, **wrong))
        assert response.status_code == 400, wrong
        html = _html(response)
        field = next(iter(wrong))
        assert re.search(rf'id="id_{field}"[^>]*>', html)
        assert f'class="form-control is-invalid" id="id_{field}"' in html or (
            re.search(rf'<[^>]*is-invalid[^>]*id="id_{field}"', html)
        ), wrong
    assert not ServiceRequest.objects.exists()


def test_the_honeypot_refuses_without_saying_why(ow: OrdersWorld, client: Client) -> None:
    response = client.post(_order_url(ow), _order(ow, website="http://spam.example"))
    assert response.status_code == 400
    html = _html(response)
    assert zh("Your request could not be sent. Please try again, or call the station.") in html
    assert "website" not in html.split("order-errors")[1][:200]
    assert not ServiceRequest.objects.exists()


def test_too_many_orders_get_the_429_page(ow: OrdersWorld, settings: Any) -> None:
    _rates(settings, order="2/hour")
    client = Client()
    for phone in ("13900000001", "13900000002"):
        assert client.post(_order_url(ow), _order(ow, contact_phone=phone)).status_code == 302
    response = client.post(_order_url(ow), _order(ow, contact_phone="13900000003"))
    assert response.status_code == 429
    assert 'id="throttled"' in _html(response)
    assert zh(
        "Too many requests from here. Please try again in %(n)d minutes, or call the station."
    )[:8] in _html(response)
    assert ServiceRequest.objects.count() == 2


def test_too_many_open_requests_of_one_phone(ow: OrdersWorld, settings: Any) -> None:
    settings.ORDERS_OPEN_PER_PHONE = 1
    client = Client()
    assert client.post(_order_url(ow), _order(ow)).status_code == 302
    response = client.post(_order_url(ow), _order(ow))
    assert response.status_code == 429 and "order-form" in _html(response)
    assert ServiceRequest.objects.count() == 1


def test_too_many_lookups_get_the_429_page(ow: OrdersWorld, settings: Any) -> None:
    _rates(settings, order_track="3/hour")
    created = new_request(ow)
    client = Client()
    for _i in range(3):
        client.post(
            f"/track/{created.tracking_code}/", {"action": "lookup", "phone": "13900001111"}
        )
    response = client.post(
        f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE}
    )
    assert response.status_code == 429 and 'id="throttled"' in _html(response)


def test_xss_in_the_description_is_escaped(ow: OrdersWorld) -> None:
    client = Client()
    evil = "<script>alert(1)</script>"
    client.post(
        _order_url(ow), _order(ow, item="other", category=str(ow.category.pk), description=evil)
    )
    created = ServiceRequest.objects.get()
    page = _html(client.get(f"/track/{created.tracking_code}/"))
    assert evil not in page
    created = advance(ow, created, RequestStatus.CLOSED)
    for url in (
        f"/units/{ow.w.station.pk}/services/",
        f"/units/{ow.w.station.pk}/",
        f"/track/{created.tracking_code}/",
    ):
        assert "<script>alert" not in _html(client.get(url)), url


# --- the menu and the public record ----------------------------------------------------------


def test_menu_page_lists_items_with_teams_and_order_buttons(
    ow: OrdersWorld, client: Client
) -> None:
    response = client.get(f"/units/{ow.w.station.pk}/menu/")
    html = _html(response)
    assert response.status_code == 200
    assert "文艺演出" in html and "广场舞教学" in html and "乙县送戏下乡" not in html
    assert "一镇文化服务队" in html  # the team that delivers the county's item
    assert f'href="/units/{ow.w.station.pk}/order/?item={ow.county_item.pk}"' in html
    assert client.get(f"/units/{ow.w.station.pk}/menu/")["X-Page-Cache"] == "hit"
    # One platform only (the home page's platform links).
    html = _html(client.get(f"/units/{ow.w.centre.pk}/menu/?category=culture"))
    assert "文艺演出" in html and "广场舞教学" not in html
    assert "文艺演出" not in _html(client.get(f"/units/{ow.w.centre.pk}/menu/?category=sports"))


def test_home_platforms_link_to_the_county_menu(db: Any, client: Client) -> None:
    from tests.factories import UnitFactory

    county = UnitFactory(name="丙县中心")
    html = _html(client.get("/"))
    assert f'href="/units/{county.pk}/menu/?category=culture"' in html
    UnitFactory(name="丁县中心")
    # Several counties: which county's menu? The platforms are plain labels then.
    assert "/menu/?category=" not in _html(Client().get("/?again"))


def _closed_requests(ow: OrdersWorld, n: int) -> list[ServiceRequest]:
    out = []
    for i in range(n):  # advance() rates with RESIDENT_PHONE: one open at a time
        out.append(advance(ow, new_request(ow, contact_name=f"居民{i}"), RequestStatus.CLOSED))
    return out


def test_transparency_page_never_shows_who_asked(ow: OrdersWorld, client: Client) -> None:
    closed = _closed_requests(ow, 2)
    secret = new_request(ow, description="我家住在某某路 3 号", contact_name="秘密人")
    advance(ow, secret, RequestStatus.CLOSED)
    for url in (f"/units/{ow.w.town.pk}/services/", f"/units/{ow.w.station.pk}/"):
        html = _html(client.get(url))
        assert "一村站" in html and "文艺演出" in html
        for r in [*closed, secret]:
            assert r.tracking_code not in html, url
            assert r.contact_name not in html, url
            assert r.contact_phone not in html and r.contact_phone_masked not in html, url
        assert "某某路" not in html, url
        assert RESIDENT_PHONE not in html


def test_transparency_figures(ow: OrdersWorld, client: Client) -> None:
    _closed_requests(ow, 2)
    new_request(ow)
    response = client.get(f"/units/{ow.w.station.pk}/services/")
    figures = response.context["figures"]
    assert figures["completed"] == 2 and figures["open"] == 1 and figures["received"] == 3
    assert figures["satisfied_percent"] == 100
    assert len(response.context["recent"]) == 2


def test_page_cache_follows_a_request_closing(
    ow: OrdersWorld, django_capture_on_commit_callbacks: Any
) -> None:
    delivered = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    urls = [
        f"/units/{ow.w.station.pk}/services/",
        f"/units/{ow.w.town.pk}/services/",
        f"/units/{ow.w.station.pk}/",
    ]
    for url in urls:
        Client().get(url)
        assert Client().get(url)["X-Page-Cache"] == "hit", url
    with django_capture_on_commit_callbacks(execute=True):
        services.request_rate(
            request=delivered, code=delivered.tracking_code, phone=RESIDENT_PHONE, rating=4
        )
    for url in urls:
        response = Client().get(url)
        assert response["X-Page-Cache"] == "miss", url
        assert zh("%(n)s of 5") % {"n": 4} in _html(response), url


def test_menu_and_poster_follow_the_menu(
    ow: OrdersWorld, django_capture_on_commit_callbacks: Any
) -> None:
    urls = [
        f"/units/{ow.w.station.pk}/menu/",
        f"/units/{ow.w.station.pk}/poster/",
        f"/units/{ow.w.station.pk}/",
    ]
    for url in urls:
        Client().get(url)
    with django_capture_on_commit_callbacks(execute=True):
        services.menu_item_create(
            actor=ow.w.coordinator,
            data={"unit": ow.w.station, "category": ow.category, "title": "老年合唱团排练"},
        )
    for url in urls:
        response = Client().get(url)
        assert response["X-Page-Cache"] == "miss" and "老年合唱团排练" in _html(response), url


def test_poster_points_to_the_order_page(ow: OrdersWorld, client: Client) -> None:
    from practice.qr import qr_svg

    html = _html(client.get(f"/units/{ow.w.station.pk}/poster/"))
    url = f"http://testserver/units/{ow.w.station.pk}/order/"
    assert url in html and qr_svg(url).decode() in html
    assert "一村站" in html and "文艺演出" in html and "广场舞教学" in html


def test_unit_page_shows_menu_order_button_and_transparency_link(
    ow: OrdersWorld, client: Client
) -> None:
    advance(ow, new_request(ow), RequestStatus.CLOSED)
    html = _html(client.get(f"/units/{ow.w.station.pk}/"))
    assert f'href="/units/{ow.w.station.pk}/order/"' in html
    assert f'href="/units/{ow.w.station.pk}/services/"' in html
    assert "文艺演出" in html and zh("%(n)s of 5") % {"n": 5} in html


@pytest.mark.parametrize("name", ["unit-menu", "unit-transparency", "order-create"])
def test_public_pages_of_a_closed_unit(ow: OrdersWorld, client: Client, name: str) -> None:
    from django.urls import reverse

    practice_services.unit_set_active(actor=ow.w.coordinator, unit=ow.w.point, active=False)
    assert client.get(reverse(name, args=[ow.w.point.pk])).status_code == 410
    assert client.get(reverse(name, args=[999999])).status_code == 404


# --- query counts ----------------------------------------------------------------------------


def test_transparency_page_costs_the_same_at_3_and_30(ow: OrdersWorld) -> None:
    url = f"/units/{ow.w.town.pk}/services/"
    _closed_requests(ow, 3)
    few = queries_of(Client(), url)
    _closed_requests_more(ow, 27)
    many = queries_of(Client(), url)
    assert len(few) == len(many) <= 5, many


def _closed_requests_more(ow: OrdersWorld, n: int) -> None:
    """``n`` rated requests written straight to the table (the volunteer's daily hours
    would stop ``advance`` long before): village stations, both items, some free ones."""
    now = timezone.now()
    units = [ow.w.station, ow.w.station2, ow.w.station3]
    ServiceRequest.objects.bulk_create(
        ServiceRequest(
            unit=units[i % 3],
            category=ow.category,
            menu_item=[ow.county_item, None, ow.station_item if i % 3 == 0 else None][i % 3],
            title=f"请求{i}",
            description="一些描述",
            contact_name=f"居民{i}",
            contact_phone_masked="139****0000",
            tracking_code=f"T{i:07d}",
            status=RequestStatus.CLOSED,
            rating=1 + i % 5,
            created_at=now - dt.timedelta(days=3),
            responded_at=now - dt.timedelta(days=2),
            delivered_at=now - dt.timedelta(days=1),
            closed_at=now,
        )
        for i in range(n)
    )


def test_menu_and_order_pages_cost_the_same_with_more_items(ow: OrdersWorld) -> None:
    urls = [f"/units/{ow.w.station.pk}/menu/", f"/units/{ow.w.station.pk}/order/"]
    few = {url: len(queries_of(Client(), url)) for url in urls}
    for i in range(20):
        item = MenuItem.objects.create(unit=ow.w.town, category=ow.category, title=f"项目{i}")
        item.teams.set([ow.team, ow.other_team])
    many = {url: len(queries_of(Client(), url)) for url in urls}
    assert few == many and max(many.values()) <= 6, many


def test_tracking_page_costs_a_few_queries(ow: OrdersWorld) -> None:
    created = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    client = Client()
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert len(queries_of(client, f"/track/{created.tracking_code}/")) <= 6


def test_desired_date_is_kept(ow: OrdersWorld, client: Client) -> None:
    wanted = timezone.localdate() + dt.timedelta(days=5)
    client.post(_order_url(ow), _order(ow, desired_date=wanted.isoformat()))
    assert ServiceRequest.objects.get().desired_date == wanted


@pytest.mark.parametrize("junk", ["---", "A" * 40, "<b>x", "abc"])
def test_junk_codes_get_the_phone_form(ow: OrdersWorld, client: Client, junk: str) -> None:
    from urllib.parse import quote

    response = client.get(f"/track/{quote(junk)}/")
    assert response.status_code == 200 and "track-phone" in _html(response)
    response = client.post(f"/track/{quote(junk)}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert response.status_code == 404 and "<b>x" not in _html(response)


def test_the_confirmation_belongs_to_the_browser_that_ordered(ow: OrdersWorld) -> None:
    client = Client()
    response = client.post(_order_url(ow), _order(ow))
    code = ServiceRequest.objects.get().tracking_code
    assert code in _html(client.get(response["Location"]))
    assert code not in _html(Client().get(response["Location"]))


def test_the_proof_lasts_thirty_minutes(ow: OrdersWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from orders import views_public

    created = new_request(ow)
    client = Client()
    client.post(f"/track/{created.tracking_code}/", {"action": "lookup", "phone": RESIDENT_PHONE})
    assert "status-words" in _html(client.get(f"/track/{created.tracking_code}/"))
    later = time.time() + views_public.PROVEN_MINUTES * 60 + 1
    monkeypatch.setattr(views_public.time, "time", lambda: later)
    assert "track-phone" in _html(client.get(f"/track/{created.tracking_code}/"))
    client.post(f"/track/{created.tracking_code}/", {"action": "cancel"})
    created.refresh_from_db()
    assert created.status == RequestStatus.SUBMITTED
