"""Registration pages: the public form step by step, the thank-you page, logging in with a
phone number, /me/, and the staff pages' permission matrix."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from practice.choices import AuditAction, UnitKind
from practice.models import AuditEntry, Category, User
from tests.conftest import World
from tests.factories import UnitFactory
from tests.volunteers.conftest import make_id_number, make_phone, make_volunteer
from volunteers.choices import VolunteerStatus
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db

PASSWORD = "river-lantern-4417"
REGISTER = "/volunteer/register/"


def _form(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "unit": world.station.pk,
        "name": "王小明",
        "id_number": make_id_number(),
        "phone": make_phone(),
        "password": PASSWORD,
        "password2": PASSWORD,
        "skills": "急救",
        "available_time": "周末",
    }
    body.update(overrides)
    return body


# --- public registration -------------------------------------------------------------------


def test_register_address_is_stable() -> None:
    assert reverse("volunteer-register") == REGISTER
    assert reverse("volunteer-me") == "/me/"


def test_register_steps_with_several_counties(world: World, client: Any) -> None:
    page = client.get(REGISTER)
    assert page.status_code == 200
    html = page.content.decode()
    assert "甲县中心" in html and "乙县中心" in html
    assert 'name="county"' in html and "data-autosubmit" in html
    assert 'id="register-form"' not in html
    html = client.get(f"{REGISTER}?county={world.centre.pk}").content.decode()
    assert "一镇所" in html and "二镇所" in html and "乙镇所" not in html
    assert 'id="register-form"' not in html
    html = client.get(f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}").content.decode()
    assert 'id="register-form"' in html
    assert "一村站" in html and "一村点" in html and "三村站" not in html
    # A town of another county is not a step of this one.
    html = client.get(f"{REGISTER}?county={world.centre.pk}&town={world.other_town.pk}")
    assert 'id="register-form"' not in html.content.decode()
    # Garbage parameters: the first step again, never a 500.
    assert client.get(f"{REGISTER}?county=1.5&town=x").status_code == 200


def test_register_single_county_starts_with_towns(db: Any, client: Any) -> None:
    centre = UnitFactory(name="丙县中心", kind=UnitKind.CENTRE)
    UnitFactory(name="丙镇所", kind=UnitKind.INSTITUTE, parent=centre)
    html = client.get(REGISTER).content.decode()
    assert 'name="county"' not in html
    assert "丙镇所" in html


def test_register_post_then_thank_you(world: World, client: Any) -> None:
    url = f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}"
    category = Category.objects.first()
    response = client.post(url, _form(world, categories=[category.pk]))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("volunteer-register-done")
    volunteer = Volunteer.objects.get()
    assert volunteer.status == VolunteerStatus.PENDING
    assert list(volunteer.categories.all()) == [category]
    done = client.get(response["Location"]).content.decode()
    assert "审核" in done or "approval" in done


def test_register_errors_shown_on_fields(world: World, client: Any) -> None:
    url = f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}"
    response = client.post(url, _form(world, id_number="350627199002301234", password2="x"))
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert not Volunteer.objects.exists()
    response = client.post(url, _form(world, unit=world.station3.pk))  # another town's
    assert response.status_code == 200
    assert not Volunteer.objects.exists()


def test_xss_name_is_escaped(world: World, client: Any) -> None:
    url = f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}"
    client.post(url, _form(world, name="<b>x</b>"))
    volunteer = Volunteer.objects.get()
    assert volunteer.name == "<b>x</b>"
    client.force_login(world.coordinator)
    html = client.get(f"/volunteers/{volunteer.pk}/").content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_login_with_phone_number(world: World, client: Any) -> None:
    url = f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}"
    client.post(url, _form(world, phone="13912340000"))
    response = client.post(
        reverse("login"), {"username": "+86 139-1234-0000", "password": PASSWORD}
    )
    assert response.status_code == 302
    me = client.get("/me/")
    assert me.status_code == 200
    assert "王小明" in me.content.decode()
    client.logout()
    response = client.post(reverse("login"), {"username": "13912340000", "password": "wrong-one"})
    assert response.status_code == 200  # the form again
    assert "_auth_user_id" not in client.session


def test_api_token_with_phone_number(world: World, api: Any) -> None:
    volunteer = make_volunteer(world.station)
    account = User.objects.create_user("vtoken", password=PASSWORD)
    volunteer.user = account
    volunteer.save()
    response = api().post(
        "/api/v1/auth/token/", {"username": volunteer.phone, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token"]
    response = api().post("/api/v1/auth/token/", {"username": volunteer.phone, "password": "bad"})
    assert response.status_code == 400


# --- /me/ ----------------------------------------------------------------------------------


def test_me_anonymous_redirects(client: Any) -> None:
    response = client.get("/me/")
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_me_without_profile_links_to_registration(world: World, browser_client: Any) -> None:
    html = browser_client(world.no_role).get("/me/").content.decode()
    assert REGISTER in html


def test_me_shows_status_reason_stars_and_edits(world: World, browser_client: Any) -> None:
    account = User.objects.create_user("vme", password=PASSWORD)
    volunteer = make_volunteer(
        world.station, user=account, status=VolunteerStatus.REJECTED, hours=350, points=42
    )
    Volunteer.objects.filter(pk=volunteer.pk).update(status_reason="照片不清晰")
    client = browser_client(account)
    html = client.get("/me/").content.decode()
    assert "照片不清晰" in html
    assert 'id="me-sections"' in html
    assert html.count("bi-star-fill") == 2  # 300 ≤ 350 < 600
    assert "42" in html
    assert volunteer.phone in html  # their own phone, in the form
    response = client.post(
        "/me/", {"phone": "13877778888", "skills": "摄影", "available_time": "晚上"}
    )
    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert (volunteer.phone, volunteer.skills) == ("13877778888", "摄影")
    # Someone else's phone: an error on the field.
    other = make_volunteer(world.station)
    response = client.post("/me/", {"phone": other.phone, "skills": "", "available_time": ""})
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()


# --- staff pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("no_role", 403),
        ("station_manager", 200),
        ("other_coordinator", 200),
        ("coordinator", 200),
    ],
)
def test_list_page_matrix(world: World, browser_client: Any, who: str | None, status: int) -> None:
    make_volunteer(world.station, name="一村人")
    client = browser_client(getattr(world, who) if who else None)
    response = client.get("/volunteers/")
    assert response.status_code == status
    if who == "other_coordinator":
        assert "一村人" not in response.content.decode()
    if who == "station_manager":
        html = response.content.decode()
        assert "一村人" in html
        assert html.index("?status=pending") < html.index("?status=active")


def test_list_page_search_and_tab(world: World, browser_client: Any) -> None:
    make_volunteer(world.station, name="甲某", status=VolunteerStatus.PENDING)
    make_volunteer(world.station, name="乙某")
    client = browser_client(world.coordinator)
    html = client.get("/volunteers/?status=pending").content.decode()
    assert "甲某" in html and "乙某" not in html
    html = client.get("/volunteers/?q=乙").content.decode()
    assert "乙某" in html and "甲某" not in html


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("no_role", 404),
        ("station_manager", 200),
        ("town_manager", 200),
        ("other_coordinator", 404),
    ],
)
def test_detail_page_matrix(
    world: World, browser_client: Any, who: str | None, status: int
) -> None:
    v = make_volunteer(world.station)
    client = browser_client(getattr(world, who) if who else None)
    response = client.get(f"/volunteers/{v.pk}/")
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert v.id_number not in html
        assert v.id_number_masked in html
        assert v.phone in html  # managers see the full phone
        assert 'id="volunteer-sections"' in html
        assert "reveal-id" not in html  # no permission: no button


def test_detail_page_own_record_redirects_to_me(world: World, browser_client: Any) -> None:
    account = User.objects.create_user("vme", password=PASSWORD)
    v = make_volunteer(world.station, user=account)
    response = browser_client(account).get(f"/volunteers/{v.pk}/")
    assert response.status_code == 302
    assert response["Location"] == "/me/"
    other = make_volunteer(world.station)
    assert browser_client(account).get(f"/volunteers/{other.pk}/").status_code == 404


def test_reveal_button_and_post(world: World, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    client = browser_client(world.coordinator)
    assert client.post(f"/volunteers/{v.pk}/reveal-id/").status_code == 403
    world.coordinator.user_permissions.add(Permission.objects.get(codename="reveal_id_number"))
    client = browser_client(User.objects.get(pk=world.coordinator.pk))
    html = client.get(f"/volunteers/{v.pk}/").content.decode()
    assert f"/volunteers/{v.pk}/reveal-id/" in html
    assert v.id_number not in html
    response = client.post(f"/volunteers/{v.pk}/reveal-id/")
    assert response.status_code == 200
    assert v.id_number in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert AuditEntry.objects.filter(action=AuditAction.VOLUNTEER_ID_REVEALED).count() == 1
    assert (
        browser_client(world.other_coordinator).post(f"/volunteers/{v.pk}/reveal-id/").status_code
        == 404
    )
    assert client.get(f"/volunteers/{v.pk}/reveal-id/").status_code == 405


def test_approve_reject_status_buttons(world: World, browser_client: Any) -> None:
    a = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    b = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    client = browser_client(world.station_manager)
    html = client.get(f"/volunteers/{a.pk}/").content.decode()
    assert f"/volunteers/{a.pk}/approve/" in html and f"/volunteers/{a.pk}/reject/" in html
    assert client.post(f"/volunteers/{a.pk}/approve/").status_code == 302
    a.refresh_from_db()
    assert a.status == VolunteerStatus.ACTIVE
    # Again: a message, not a crash.
    assert client.post(f"/volunteers/{a.pk}/approve/", follow=True).status_code == 200
    client.post(f"/volunteers/{b.pk}/reject/", {"reason": ""})
    b.refresh_from_db()
    assert b.status == VolunteerStatus.PENDING
    client.post(f"/volunteers/{b.pk}/reject/", {"reason": "不符合条件"})
    b.refresh_from_db()
    assert (b.status, b.status_reason) == (VolunteerStatus.REJECTED, "不符合条件")
    client.post(f"/volunteers/{a.pk}/status/", {"status": "suspended", "reason": "暂停"})
    a.refresh_from_db()
    assert a.status == VolunteerStatus.SUSPENDED
    client.post(f"/volunteers/{a.pk}/status/", {"status": "active"})
    a.refresh_from_db()
    assert a.status == VolunteerStatus.ACTIVE
    other = browser_client(world.other_coordinator)
    assert other.post(f"/volunteers/{a.pk}/approve/").status_code == 404
    assert other.post(f"/volunteers/{a.pk}/status/", {"status": "withdrawn"}).status_code == 404


def test_new_page(world: World, browser_client: Any) -> None:
    assert browser_client(world.no_role).get("/volunteers/new/").status_code == 403
    client = browser_client(world.station_manager)
    html = client.get("/volunteers/new/").content.decode()
    assert "一村站" in html and "二村站" not in html
    body = _form(world)
    for key in ("password", "password2"):
        body.pop(key)
    response = client.post("/volunteers/new/", body)
    assert response.status_code == 302
    v = Volunteer.objects.get()
    assert v.status == VolunteerStatus.ACTIVE
    assert response["Location"] == f"/volunteers/{v.pk}/"
    # A unit outside the manager's scope is not a choice.
    response = client.post("/volunteers/new/", _form(world, unit=world.station2.pk))
    assert response.status_code == 200
    assert Volunteer.objects.count() == 1


def test_edit_page(world: World, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    assert (
        browser_client(world.other_coordinator).get(f"/volunteers/{v.pk}/edit/").status_code == 404
    )
    assert browser_client(world.no_role).get(f"/volunteers/{v.pk}/edit/").status_code == 404
    client = browser_client(world.town_manager)
    assert client.get(f"/volunteers/{v.pk}/edit/").status_code == 200
    response = client.post(
        f"/volunteers/{v.pk}/edit/",
        {"name": "新名", "phone": v.phone, "unit": world.station2.pk, "skills": ""},
    )
    assert response.status_code == 302
    v.refresh_from_db()
    assert (v.name, v.unit) == ("新名", world.station2)


def test_nav_links(world: World, browser_client: Any, client: Any) -> None:
    html = client.get("/volunteer/register/").content.decode()
    assert 'href="/volunteer/register/"' in html
    html = browser_client(world.station_manager).get("/volunteers/").content.decode()
    assert 'href="/volunteers/"' in html and 'href="/me/"' not in html
    account = User.objects.create_user("vnav", password=PASSWORD)
    make_volunteer(world.station, user=account)
    html = browser_client(account).get("/me/").content.decode()
    assert 'href="/me/"' in html and 'href="/volunteers/"' not in html


def test_admin_shows_masked_only(world: World, browser_client: Any) -> None:
    v = make_volunteer(world.station)
    client = browser_client(world.superuser)
    html = client.get("/admin/volunteers/volunteer/").content.decode()
    assert v.id_number_masked in html and v.id_number not in html
    assert v.phone not in html
    html = client.get(f"/admin/volunteers/volunteer/{v.pk}/change/").content.decode()
    assert v.id_number not in html and v.phone not in html


def test_register_page_shares_the_api_limit(world: World, client: Any) -> None:
    from django.test import override_settings
    from rest_framework.settings import api_settings

    url = f"{REGISTER}?county={world.centre.pk}&town={world.town.pk}"
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "volunteer_register": "2/hour"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        assert client.post(url, _form(world)).status_code == 302
        assert client.post(url, _form(world)).status_code == 302
        assert client.post(url, _form(world)).status_code == 429
    assert Volunteer.objects.count() == 2


def test_list_search_by_id_or_phone_never_in_the_address(world: World, browser_client: Any) -> None:
    a = make_volunteer(world.station, name="甲某")
    make_volunteer(world.station, name="乙某")
    client = browser_client(world.coordinator)
    for q in (a.id_number, a.phone, f"+86 {a.phone}"):
        response = client.post("/volunteers/", {"q": q})
        assert response.status_code == 200
        html = response.content.decode()
        assert "甲某" in html and "乙某" not in html
        assert f"q={a.id_number}" not in html and f"q={a.phone}" not in html
    response = client.post("/volunteers/", {"q": "乙", "status": "active"})
    assert response.status_code == 302
    assert response["Location"].startswith("/volunteers/?status=active&q=")
