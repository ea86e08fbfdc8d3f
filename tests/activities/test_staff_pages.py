"""The staff pages of activities: the list, the plan/report/edit form, an activity's page
with its actions, and the review queue — the permission matrix of each, the form's error
messages, return with a reason, fix and resubmit, approval, and constant query counts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from activities import services
from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant, ActivityPhoto, Attendance
from practice.choices import Role
from practice.models import User
from tests.activities.conftest import make_activity, platform, span
from tests.conftest import World
from tests.factories import RoleFactory, UserFactory
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from volunteers.choices import RecordStatus
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client: Any) -> Any:
    """``browser(user)`` → the test client logged in as ``user``, pages in English."""

    def make(user: User | None = None) -> Any:
        client.logout()
        if user is not None:
            client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def volunteer(world: World) -> Volunteer:
    return _number(make_volunteer(world.station, name="王志愿"))


def _number(volunteer: Volunteer) -> Volunteer:
    volunteer.refresh_from_db()
    return volunteer


def _local(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def form_data(
    world: World,
    *,
    people: Sequence[tuple[str | None, str]] = (),
    extra_rows: int = 2,
    **overrides: Any,
) -> dict[str, Any]:
    """A complete POST of the activity form: a 3-hour report of the station two days ago."""
    start, end = span(days_ago=2, hours=3)
    data: dict[str, Any] = {
        "mode": "draft",
        "unit": world.station.pk,
        "title": "理论宣讲进村",
        "category": platform("theory").pk,
        "team": "",
        "start": _local(start),
        "end": _local(end),
        "location": "村文化礼堂",
        "latitude": "",
        "longitude": "",
        "capacity": "",
        "description": "宣讲新思想",
        "beneficiaries": "120",
        "materials": "300",
    }
    rows = [(number or "", hours) for number, hours in people] + [("", "")] * extra_rows
    data.update(
        {
            "people-TOTAL_FORMS": str(len(rows)),
            "people-INITIAL_FORMS": "0",
            "people-MIN_NUM_FORMS": "0",
            "people-MAX_NUM_FORMS": "1000",
        }
    )
    for index, (number, hours) in enumerate(rows):
        data[f"people-{index}-number"] = number
        data[f"people-{index}-hours"] = hours
    data.update(overrides)
    return data


def edit_data(activity: Activity, **overrides: Any) -> dict[str, Any]:
    """The edit form as the page shows it for ``activity`` (its participants included)."""
    people = [
        (p.volunteer.number, str(p.hours))
        for p in activity.participants.select_related("volunteer")
    ]
    data: dict[str, Any] = {
        "unit": activity.unit_id,
        "title": activity.title,
        "category": activity.category_id,
        "team": activity.team_id or "",
        "start": _local(activity.start),
        "end": _local(activity.end),
        "location": activity.location,
        "latitude": "",
        "longitude": "",
        "capacity": "",
        "description": activity.description,
        "beneficiaries": str(activity.beneficiaries),
        "materials": str(activity.materials),
        "people-TOTAL_FORMS": str(len(people)),
        "people-INITIAL_FORMS": str(len(people)),
        "people-MIN_NUM_FORMS": "0",
        "people-MAX_NUM_FORMS": "1000",
    }
    if activity.status == ActivityStatus.PLANNED:
        data["mode"] = "planned"
    for index, (number, hours) in enumerate(people):
        data[f"people-{index}-number"] = number
        data[f"people-{index}-hours"] = hours
    data.update(overrides)
    return data


def jpeg(color: str = "red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg")


def logged(world: World, volunteer: Volunteer, **data: Any) -> Activity:
    """A draft of the station with ``volunteer`` for 2 hours."""
    return make_activity(
        world.station_manager,
        world.station,
        participants=[{"volunteer": volunteer.pk, "hours": "2"}],
        **data,
    )


def submitted(world: World, volunteer: Volunteer) -> Activity:
    activity = logged(world, volunteer)
    return services.activity_submit(actor=world.station_manager, activity=activity)


def _who(world: World, town_coordinator: User, name: str | None) -> User | None:
    if name is None:
        return None
    if name == "town_coordinator":
        return town_coordinator
    if name == "peer":
        peer = RoleFactory(user=UserFactory(username="peer"), unit=world.station2)
        return User.objects.get(pk=peer.user_id)
    found: User = getattr(world, name)
    return found


# --- the permission matrix ---------------------------------------------------------------


PAGES = ["list", "review", "new", "manage", "edit"]

# who → expected status of each page (anonymous: a redirect to the login page).
MATRIX: dict[str | None, dict[str, int]] = {
    None: {"list": 302, "review": 302, "new": 302, "manage": 302, "edit": 302},
    "no_role": {"list": 404, "review": 404, "new": 404, "manage": 404, "edit": 404},
    "other_coordinator": {"list": 200, "review": 200, "new": 200, "manage": 404, "edit": 404},
    "peer": {"list": 200, "review": 200, "new": 200, "manage": 404, "edit": 404},
    "station_manager": {"list": 200, "review": 200, "new": 200, "manage": 200, "edit": 200},
    "town_manager": {"list": 200, "review": 200, "new": 200, "manage": 200, "edit": 200},
    "town_coordinator": {"list": 200, "review": 200, "new": 200, "manage": 200, "edit": 200},
    "coordinator": {"list": 200, "review": 200, "new": 200, "manage": 200, "edit": 200},
    "superuser": {"list": 200, "review": 200, "new": 200, "manage": 200, "edit": 200},
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_permission_matrix_of_the_pages(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any, who: str | None
) -> None:
    activity = logged(world, volunteer)
    urls = {
        "list": "/activities/manage/",
        "review": "/activities/review/",
        "new": f"/activities/new/?unit={world.station.pk}",
        "manage": f"/activities/{activity.pk}/manage/",
        "edit": f"/activities/{activity.pk}/edit/",
    }
    client = browser(_who(world, town_coordinator, who))
    for page in PAGES:
        response = client.get(urls[page])
        assert response.status_code == MATRIX[who][page], (who, page)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/")
    listed = client.get(urls["list"])
    if listed.status_code == 200:
        # The list shows the activity exactly to those who may open it.
        assert (f'data-activity="{activity.pk}"' in listed.content.decode()) == (
            MATRIX[who]["manage"] == 200
        )


# who → status of POST approve / return / submit on a submitted (approve, return) or
# draft (submit) activity of the station.
ACTIONS: dict[str | None, dict[str, Any]] = {
    None: {"approve": 302, "return": 302, "submit": 302},
    "no_role": {"approve": 404, "return": 404, "submit": 404},
    "other_coordinator": {"approve": 404, "return": 404, "submit": 404},
    "peer": {"approve": 404, "return": 404, "submit": 404},
    # The station's own manager logs and submits but never reviews its own report.
    "station_manager": {"approve": 403, "return": 403, "submit": "done"},
    # The town's manager may log for the station, but only coordinators review.
    "town_manager": {"approve": 403, "return": 403, "submit": "done"},
    "town_coordinator": {"approve": "done", "return": "done", "submit": "done"},
    "coordinator": {"approve": "done", "return": "done", "submit": "done"},
    "superuser": {"approve": "done", "return": "done", "submit": "done"},
}


@pytest.mark.parametrize("who", list(ACTIONS))
def test_permission_matrix_of_the_actions(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any, who: str | None
) -> None:
    user = _who(world, town_coordinator, who)
    expected = ACTIONS[who]
    for action, to in (("approve", "approved"), ("return", "returned")):
        activity = submitted(world, volunteer)
        response = browser(user).post(
            f"/activities/{activity.pk}/{action}/", {"return-reason": "照片不清楚"}
        )
        activity.refresh_from_db()
        if expected[action] == "done":
            assert response.status_code == 302
            assert response["Location"] == f"/activities/{activity.pk}/manage/"
            assert activity.status == to
            assert activity.reviewed_by == user
        else:
            assert response.status_code == expected[action], (who, action)
            assert activity.status == ActivityStatus.SUBMITTED
    draft = logged(world, volunteer, days_ago=5)
    response = browser(user).post(f"/activities/{draft.pk}/submit/")
    draft.refresh_from_db()
    if expected["submit"] == "done":
        assert response.status_code == 302
        assert draft.status == ActivityStatus.SUBMITTED
    else:
        assert response.status_code == expected["submit"]
        assert draft.status == ActivityStatus.DRAFT


def test_only_reviewers_see_the_review_forms(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any
) -> None:
    activity = submitted(world, volunteer)
    url = f"/activities/{activity.pk}/manage/"
    own = browser(world.station_manager).get(url).content.decode()
    assert 'id="approve"' not in own and 'id="return"' not in own
    assert 'id="review-hint"' in own
    reviewer = browser(town_coordinator).get(url).content.decode()
    assert 'id="approve"' in reviewer and 'id="return"' in reviewer


def test_nav_link_for_staff_only(world: World, volunteer: Volunteer, browser: Any) -> None:
    assert 'id="nav-activities"' in browser(world.station_manager).get("/").content.decode()
    assert 'id="nav-activities"' not in browser(world.no_role).get("/").content.decode()
    assert 'id="nav-activities"' not in browser(None).get("/").content.decode()


# --- the form -----------------------------------------------------------------------------


def test_create_a_report_with_participants_and_a_photo(
    world: World, volunteer: Volunteer, browser: Any
) -> None:
    client = browser(world.station_manager)
    data = form_data(world, people=[(volunteer.number.lower(), "2.5")])
    data["photos"] = [jpeg("red"), jpeg("blue")]
    response = client.post(f"/activities/new/?unit={world.station.pk}", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    activity = Activity.objects.get()
    assert response["Location"] == f"/activities/{activity.pk}/manage/"
    assert activity.status == ActivityStatus.DRAFT
    assert (activity.beneficiaries, activity.materials) == (120, 300)
    assert activity.created_by == world.station_manager
    people = list(activity.participants.values_list("volunteer_id", "hours"))
    assert people == [(volunteer.pk, Decimal("2.50"))]
    assert ActivityPhoto.objects.filter(activity=activity).count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "理论宣讲进村" in page and "王志愿" in page
    assert page.count("/activities/photos/") >= 2


def test_plan_an_activity_ahead(world: World, browser: Any) -> None:
    start, end = span(days_ago=-3, hours=2)
    response = browser(world.station_manager).post(
        f"/activities/new/?unit={world.station.pk}",
        form_data(
            world,
            mode="planned",
            start=_local(start),
            end=_local(end),
            capacity="20",
            latitude="24.512345",
            longitude="117.301",
        ),
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert activity.status == ActivityStatus.PLANNED
    assert activity.capacity == 20
    assert (activity.latitude, activity.longitude) == (Decimal("24.512345"), Decimal("117.301"))
    # Out of range: refused next to the field, nothing changed.
    response = browser(world.station_manager).post(
        f"/activities/{activity.pk}/edit/", edit_data(activity, latitude="91", capacity="0")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["latitude"]
    activity.refresh_from_db()
    assert activity.capacity == 20


def test_planned_turned_into_a_report(world: World, browser: Any) -> None:
    activity = make_activity(world.station_manager, world.station, status="planned", days_ago=-1)
    start, end = span(days_ago=1, hours=2)
    response = browser(world.station_manager).post(
        f"/activities/{activity.pk}/edit/",
        edit_data(activity, mode="draft", start=_local(start), end=_local(end)),
    )
    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.DRAFT


def test_several_units_choose_first(world: World, browser: Any) -> None:
    """The town's manager logs for the town or a station: the unit is chosen first."""
    page = browser(world.town_manager).get("/activities/new/")
    assert page.status_code == 200
    assert page.context["form"] is None
    assert 'id="activity-unit"' in page.content.decode()
    chosen = browser(world.town_manager).get(f"/activities/new/?unit={world.station.pk}")
    assert chosen.context["form"] is not None
    # A unit outside the user's units is not offered.
    other = browser(world.town_manager).get(f"/activities/new/?unit={world.other_station.pk}")
    assert other.context["form"] is None


ERRORS = [
    ("end before start", {"end_before_start": True}, "end", "The end must be after the start."),
    ("future report", {"future": True}, "end", "A report cannot lie in the future"),
    ("negative count", {"beneficiaries": "-5"}, "beneficiaries", "Enter a number from 0 to"),
    ("absurd count", {"materials": "99999999"}, "materials", "Enter a number from 0 to"),
    ("not a number", {"beneficiaries": "many"}, "beneficiaries", "Enter a whole number."),
    ("no title", {"title": ""}, "title", "This field is required."),
]


@pytest.mark.parametrize(("case", "change", "field", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_form_errors_next_to_the_fields(
    world: World, browser: Any, case: str, change: dict[str, Any], field: str, message: str
) -> None:
    data = form_data(world)
    change = dict(change)
    if change.pop("end_before_start", False):
        data["end"], data["start"] = data["start"], data["end"]
    if change.pop("future", False):
        start, end = span(days_ago=-2, hours=2)
        data.update(start=_local(start), end=_local(end))
    data.update(change)
    response = browser(world.station_manager).post(
        f"/activities/new/?unit={world.station.pk}", data
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in str(e) for e in form.errors[field]), form.errors
    assert message in response.content.decode()
    assert not Activity.objects.exists()


def test_participant_row_errors(world: World, volunteer: Volunteer, browser: Any) -> None:
    client = browser(world.station_manager)
    url = f"/activities/new/?unit={world.station.pk}"
    # Hours over the activity's length (3 hours) and over 24.
    response = client.post(url, form_data(world, people=[(volunteer.number, "4")]))
    assert response.status_code == 200
    rows = response.context["formset"].forms
    assert "more than the activity lasted" in " ".join(rows[0].errors["hours"])
    # The same volunteer twice: the second row says so.
    response = client.post(
        url, form_data(world, people=[(volunteer.number, "2"), (volunteer.number, "1")])
    )
    rows = response.context["formset"].forms
    assert "is listed twice" in " ".join(rows[1].errors["number"])
    assert not rows[0].errors
    # An unknown number, and hours without a volunteer.
    response = client.post(url, form_data(world, people=[("V000", "2"), ("", "2")]))
    rows = response.context["formset"].forms
    assert "There is no volunteer with this number." in " ".join(rows[0].errors["number"])
    assert "Enter the volunteer's number." in " ".join(rows[1].errors["number"])
    # A volunteer of another county is no such volunteer for this manager.
    stranger = _number(make_volunteer(world.other_station, name="外县人"))
    response = client.post(url, form_data(world, people=[(stranger.number, "2")]))
    assert "There is no such volunteer." in " ".join(
        response.context["formset"].forms[0].errors["number"]
    )
    assert not Activity.objects.exists()


def test_a_file_that_is_not_a_photo(world: World, browser: Any) -> None:
    data = form_data(world)
    data["photos"] = [SimpleUploadedFile("fake.jpg", b"not a picture", content_type="image/jpeg")]
    client = browser(world.station_manager)
    response = client.post(f"/activities/new/?unit={world.station.pk}", data, follow=True)
    activity = Activity.objects.get()
    # The activity is kept, the file is refused with a message and the form shown again.
    assert response.redirect_chain[-1][0] == f"/activities/{activity.pk}/edit/"
    page = response.content.decode()
    assert "Photo fake.jpg was not added" in page
    assert "This file is not a JPEG or PNG photo." in page
    assert not ActivityPhoto.objects.exists()


def test_a_unit_outside_the_users_units(world: World, browser: Any) -> None:
    response = browser(world.station_manager).post(
        f"/activities/new/?unit={world.station.pk}",
        form_data(world, unit=world.station2.pk),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["unit"]
    assert not Activity.objects.exists()


def test_a_submitted_activity_cannot_be_edited(
    world: World, volunteer: Volunteer, browser: Any
) -> None:
    activity = submitted(world, volunteer)
    client = browser(world.station_manager)
    response = client.get(f"/activities/{activity.pk}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/activities/{activity.pk}/manage/"
    assert "can no longer be edited" in response.content.decode()
    response = client.post(f"/activities/{activity.pk}/edit/", edit_data(activity, title="改"))
    activity.refresh_from_db()
    assert activity.title != "改"


# --- review: return with a reason, fix and resubmit, approve ------------------------------


def test_return_fix_resubmit_approve(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any
) -> None:
    activity = submitted(world, volunteer)
    manage = f"/activities/{activity.pk}/manage/"
    # Returning without a reason is refused, nothing changes.
    response = browser(town_coordinator).post(
        f"/activities/{activity.pk}/return/", {"return-reason": "  "}
    )
    assert response.status_code == 200
    assert response.context["return_form"].errors["reason"]
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.SUBMITTED
    # Returned with a reason: the unit reads it on the activity's page and in the form.
    response = browser(town_coordinator).post(
        f"/activities/{activity.pk}/return/", {"return-reason": "受益人数与照片不符，请核实"}
    )
    assert response.status_code == 302
    page = browser(world.station_manager).get(manage).content.decode()
    assert 'id="return-reason"' in page and "受益人数与照片不符，请核实" in page
    assert 'id="edit-link"' in page and 'id="submit-form"' in page
    edit_page = browser(world.station_manager).get(f"/activities/{activity.pk}/edit/")
    assert "受益人数与照片不符，请核实" in edit_page.content.decode()
    listed = browser(world.station_manager).get("/activities/manage/?status=returned")
    assert "受益人数与照片不符" in listed.content.decode()
    # Fixed and submitted again.
    activity.refresh_from_db()
    response = browser(world.station_manager).post(
        f"/activities/{activity.pk}/edit/", edit_data(activity, beneficiaries="80")
    )
    assert response.status_code == 302
    response = browser(world.station_manager).post(f"/activities/{activity.pk}/submit/")
    assert response.status_code == 302
    activity.refresh_from_db()
    assert (activity.status, activity.beneficiaries) == (ActivityStatus.SUBMITTED, 80)
    # In the reviewer's queue; approved from the page.
    queue = browser(town_coordinator).get("/activities/review/").content.decode()
    assert f'data-activity="{activity.pk}"' in queue
    listed = browser(town_coordinator).get("/activities/manage/")
    assert listed.context["to_review"] == 1
    assert 'id="review-link"' in listed.content.decode()
    assert (
        'id="review-link"'
        not in browser(world.station_manager).get("/activities/manage/").content.decode()
    )
    response = browser(town_coordinator).post(f"/activities/{activity.pk}/approve/")
    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.APPROVED
    record = ActivityParticipant.objects.get(activity=activity).record
    assert record is not None and record.status == RecordStatus.CONFIRMED
    page = browser(world.station_manager).get(manage).content.decode()
    assert 'id="return-reason"' not in page
    assert 'id="edit-link"' not in page
    queue = browser(town_coordinator).get("/activities/review/").content.decode()
    assert f'data-activity="{activity.pk}"' not in queue


def test_submit_before_the_end_is_refused_with_a_message(
    world: World, volunteer: Volunteer, browser: Any
) -> None:
    activity = make_activity(world.station_manager, world.station, status="planned", days_ago=-1)
    response = browser(world.station_manager).post(
        f"/activities/{activity.pk}/submit/", follow=True
    )
    assert "Only a draft or returned activity can be submitted" in response.content.decode()
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PLANNED


def test_review_queue_lists_what_the_user_reviews(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any
) -> None:
    first = submitted(world, volunteer)
    other_volunteer = _number(make_volunteer(world.station3, name="李"))
    second = make_activity(
        world.coordinator,
        world.station3,
        days_ago=1,
        participants=[{"volunteer": other_volunteer.pk, "hours": "1"}],
    )
    services.activity_submit(actor=world.coordinator, activity=second)
    town_queue = browser(town_coordinator).get("/activities/review/").context["activities"]
    assert [a.pk for a in town_queue] == [first.pk]
    county_queue = browser(world.coordinator).get("/activities/review/").context["activities"]
    assert [a.pk for a in county_queue] == [first.pk, second.pk]  # oldest submission first
    manager = browser(world.station_manager).get("/activities/review/")
    assert list(manager.context["activities"]) == []
    assert 'id="not-reviewer"' in manager.content.decode()


# --- the evidence on the activity's page ----------------------------------------------------


def test_reported_and_checked_in_hours(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any
) -> None:
    activity = logged(world, volunteer)
    second = _number(make_volunteer(world.station, name="赵"))
    services.activity_update(
        actor=world.station_manager,
        activity=activity,
        data={
            "participants": [
                {"volunteer": volunteer.pk, "hours": "2"},
                {"volunteer": second.pk, "hours": "1.5"},
            ]
        },
    )
    # What check-out would have left: checked-in hours next to the manager's.
    ActivityParticipant.objects.filter(activity=activity, volunteer=volunteer).update(
        checked_hours=Decimal("1.75")
    )
    ActivityParticipant.objects.filter(activity=activity, volunteer=second).update(
        checked_hours=Decimal("1.5")
    )
    services.activity_submit(actor=world.station_manager, activity=activity)
    page = browser(town_coordinator).get(f"/activities/{activity.pk}/manage/")
    html = page.content.decode()
    assert "reported 2.00 h, checked in 1.75 h" in html
    assert html.count('class="small text-danger fw-semibold difference"') == 1
    assert 'id="hours-differ"' in html
    assert page.context["differences"] == 1
    assert page.context["total_hours"] == Decimal("3.50")


def test_the_page_shows_no_phone_or_id_number(
    world: World, volunteer: Volunteer, browser: Any
) -> None:
    activity = logged(world, volunteer)
    html = browser(world.station_manager).get(f"/activities/{activity.pk}/manage/")
    content = html.content.decode()
    assert volunteer.phone not in content
    assert volunteer.id_number not in content
    assert volunteer.phone_masked not in content


def test_filters_of_the_list(world: World, volunteer: Volunteer, browser: Any) -> None:
    draft = logged(world, volunteer)
    sent = submitted(world, volunteer)
    other = make_activity(world.coordinator, world.station3, category="education", days_ago=9)
    client = browser(world.coordinator)

    def listed(query: str) -> set[int]:
        return {a.pk for a in client.get(f"/activities/manage/{query}").context["activities"]}

    assert listed("") == {draft.pk, sent.pk, other.pk}
    assert listed("?status=submitted") == {sent.pk}
    export = client.get("/activities/manage/?status=submitted&category=theory")
    assert export.context["export_url"] == (
        "/activities/export.xlsx?status=submitted&category=theory"
    )
    assert listed(f"?within={world.town.pk}") == {draft.pk, sent.pk}
    assert listed("?category=education") == {other.pk}
    since = timezone.localdate() - timezone.timedelta(days=5)
    assert listed(f"?from={since:%Y-%m-%d}") == {draft.pk, sent.pk}
    bad = client.get("/activities/manage/?from=2026-05-01&to=2026-01-01")
    assert 'id="activity-filter-errors"' in bad.content.decode()


# --- constant queries -----------------------------------------------------------------------


def _many(world: World, count: int) -> None:
    """``count`` more submitted activities of the station, each with two participants and
    a photo row (no file needed for the lists)."""
    people = [_number(make_volunteer(world.station, name=f"志愿{i}")) for i in range(2)]
    for index in range(count):
        activity = make_activity(
            world.station_manager,
            world.station,
            days_ago=3 + index * 0.2,
            hours=1,
            participants=[{"volunteer": v.pk, "hours": "1"} for v in people],
        )
        services.activity_submit(actor=world.station_manager, activity=activity)
        ActivityPhoto.objects.create(
            activity=activity,
            image=f"x/{index}.jpg",
            thumbnail=f"x/{index}-t.jpg",
            width=1,
            height=1,
            size=1,
            phash=f"{index:016x}",
        )


@pytest.mark.parametrize("url", ["/activities/manage/", "/activities/review/"])
def test_lists_cost_the_same_at_two_sizes(
    world: World, town_coordinator: User, browser: Any, url: str
) -> None:
    client = browser(town_coordinator)
    _many(world, 2)
    small = queries_of(client, url)
    _many(world, 12)
    large = queries_of(client, url)
    assert len(client.get(url).context["activities"]) == 14
    assert len(small) == len(large), "\n".join(large)


def test_the_activity_page_costs_the_same_whatever_its_size(
    world: World, town_coordinator: User, browser: Any
) -> None:
    few = _number(make_volunteer(world.station, name="一"))
    small = make_activity(
        world.station_manager, world.station, participants=[{"volunteer": few.pk, "hours": "1"}]
    )
    crowd = [_number(make_volunteer(world.station, name=f"众{i}")) for i in range(15)]
    big = make_activity(
        world.station_manager,
        world.station,
        category="education",
        participants=[{"volunteer": v.pk, "hours": "1"} for v in crowd],
    )
    for index in range(6):
        ActivityPhoto.objects.create(
            activity=big,
            image=f"y/{index}.jpg",
            thumbnail=f"y/{index}-t.jpg",
            width=1,
            height=1,
            size=1,
            phash=f"{index + 100:016x}",
        )
    client = browser(town_coordinator)
    assert len(queries_of(client, f"/activities/{small.pk}/manage/")) == len(
        queries_of(client, f"/activities/{big.pk}/manage/")
    )
    assert len(queries_of(client, f"/activities/{small.pk}/edit/")) == len(
        queries_of(client, f"/activities/{big.pk}/edit/")
    )


def test_a_coordinator_role_is_enough_to_review_below(world: World, browser: Any) -> None:
    """A coordinator of the station itself does not review the station's reports."""
    own = RoleFactory(
        user=UserFactory(username="stcoord"), unit=world.station, role=Role.COORDINATOR
    )
    volunteer = _number(make_volunteer(world.station, name="钱"))
    activity = submitted(world, volunteer)
    response = browser(own.user).post(f"/activities/{activity.pk}/approve/")
    assert response.status_code == 403


def test_possible_duplicates_flagged_for_the_reviewer(
    world: World, town_coordinator: User, volunteer: Volunteer, browser: Any
) -> None:
    first = submitted(world, volunteer)  # same unit, platform and time: overlapping
    second = submitted(world, volunteer)
    alone = make_activity(world.station_manager, world.station, category="education", days_ago=9)
    services.activity_submit(actor=world.station_manager, activity=alone)
    page = browser(town_coordinator).get(f"/activities/{second.pk}/manage/")
    html = page.content.decode()
    assert 'id="duplicates"' in html and f'data-duplicate="{first.pk}"' in html
    assert "overlapping time" in html
    assert (
        'id="duplicates"'
        not in browser(town_coordinator).get(f"/activities/{alone.pk}/manage/").content.decode()
    )
    queue = browser(town_coordinator).get("/activities/review/")
    flags = {a.pk: a.duplicate_flags for a in queue.context["activities"]}
    assert flags == {first.pk: 1, second.pk: 1, alone.pk: 0}
    assert queue.content.decode().count("duplicate-flags") == 2


def test_attendance_on_the_activity_page(world: World, browser: Any) -> None:
    activity = make_activity(world.station_manager, world.station)
    signed = _number(make_volunteer(world.station, name="孙报名"))
    now = timezone.now()
    Attendance.objects.create(
        activity=activity,
        volunteer=signed,
        signed_up_at=now,
        checked_in_at=now,
        check_in_distance=120,
    )
    html = browser(world.station_manager).get(f"/activities/{activity.pk}/manage/")
    content = html.content.decode()
    assert 'id="attendance-table"' in content
    assert "孙报名" in content and "120 m away" in content


def test_editing_keeps_the_checked_in_hours(
    world: World, volunteer: Volunteer, browser: Any
) -> None:
    """The manager changes a checked-in volunteer's hours in the form: the evidence stays and
    the difference shows."""
    activity = logged(world, volunteer)
    ActivityParticipant.objects.filter(activity=activity).update(
        hours=Decimal("1.50"), checked_hours=Decimal("1.50")
    )
    data = edit_data(activity)
    assert data["people-0-hours"] == "1.50"
    data["people-0-hours"] = "1.75"
    client = browser(world.station_manager)
    assert client.post(f"/activities/{activity.pk}/edit/", data).status_code == 302
    row = ActivityParticipant.objects.get(activity=activity)
    assert (row.hours, row.checked_hours) == (Decimal("1.75"), Decimal("1.50"))
    html = client.get(f"/activities/{activity.pk}/manage/").content.decode()
    assert "reported 1.75 h, checked in 1.50 h" in html
