"""Activity services: creating, editing, submitting, approving and returning, with the
validation cases and the permission matrix of review (a coordinator strictly above)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from activities import services
from activities.choices import ActivityStatus
from activities.models import Activity
from orders.choices import RequestStatus
from portal.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from practice.choices import AuditAction
from practice.models import AuditEntry, Category
from tests.conftest import World
from tests.orders.conftest import OrdersWorld, advance, new_request, ow  # noqa: F401 - fixture
from tests.volunteers.conftest import make_volunteer
from volunteers.choices import RecordStatus, VolunteerStatus
from volunteers.models import ServiceRecord, Team, Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Messages compared in English (the msgids)."""
    with translation.override("en"):
        yield


@pytest.fixture
def category(db: Any) -> Category:
    return Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})[0]


@pytest.fixture
def volunteer(world: World) -> Volunteer:
    return make_volunteer(world.station, name="王志愿")


def past(days: int = 3, hours: int = 3) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=days)
    return start, start + dt.timedelta(hours=hours)


def data_for(world: World, category: Category, **overrides: Any) -> dict[str, Any]:
    start, end = past()
    data: dict[str, Any] = {
        "title": "理论宣讲进村",
        "unit": world.station,
        "category": category,
        "start": start,
        "end": end,
        "location": "村文化礼堂",
        "description": "宣讲新思想",
        "beneficiaries": 120,
        "materials": 300,
        "participants": [],
    }
    data.update(overrides)
    return data


def make(
    world: World, category: Category, volunteer: Volunteer | None = None, **kw: Any
) -> Activity:
    people = [{"volunteer": volunteer.pk, "hours": "2"}] if volunteer is not None else []
    actor = kw.pop("actor", world.station_manager)
    return services.activity_create(
        actor=actor, data=data_for(world, category, participants=people, **kw)
    )


def in_state(world: World, category: Category, volunteer: Volunteer, state: str) -> Activity:
    """An activity of the station, logged by its manager, taken to ``state``."""
    if state == ActivityStatus.PLANNED:
        start = timezone.now() + dt.timedelta(days=3)
        return make(
            world,
            category,
            volunteer,
            status="planned",
            start=start,
            end=start + dt.timedelta(hours=3),
        )
    activity = make(world, category, volunteer)
    if state == ActivityStatus.DRAFT:
        return activity
    activity = services.activity_submit(actor=world.station_manager, activity=activity)
    if state == ActivityStatus.SUBMITTED:
        return activity
    if state == ActivityStatus.APPROVED:
        return services.activity_approve(actor=world.coordinator, activity=activity)
    return services.activity_return(actor=world.coordinator, activity=activity, reason="照片不清")


def _field_error(exc: pytest.ExceptionInfo[ValidationFailed], field: str) -> None:
    assert field in exc.value.detail, exc.value.detail


# --- creating ---------------------------------------------------------------------------------


def test_station_manager_logs_a_draft(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    activity = make(world, category, volunteer)
    assert activity.status == ActivityStatus.DRAFT
    assert activity.created_by == world.station_manager
    participant = activity.participants.get()
    assert (participant.volunteer, participant.hours, participant.record) == (
        volunteer,
        Decimal("2.00"),
        None,
    )
    assert AuditEntry.objects.filter(
        action=AuditAction.ACTIVITY_CREATED, unit=world.station
    ).exists()


def test_a_planned_activity_may_lie_in_the_future(world: World, category: Category) -> None:
    start = timezone.now() + dt.timedelta(days=7)
    activity = make(
        world, category, status="planned", start=start, end=start + dt.timedelta(hours=2)
    )
    assert activity.status == ActivityStatus.PLANNED


def test_a_report_may_not_lie_in_the_future(world: World, category: Category) -> None:
    start = timezone.now() + dt.timedelta(days=7)
    with pytest.raises(ValidationFailed) as exc:
        make(world, category, start=start, end=start + dt.timedelta(hours=2))
    assert exc.value.code == "date_in_future"


def test_a_new_activity_is_not_born_submitted(world: World, category: Category) -> None:
    with pytest.raises(ValidationFailed) as exc:
        make(world, category, status="submitted")
    _field_error(exc, "status")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end_before_start": True}, "end"),
        ({"beneficiaries": -1}, "beneficiaries"),
        ({"beneficiaries": 1_000_001}, "beneficiaries"),
        ({"materials": "1.5"}, "materials"),
        ({"materials": True}, "materials"),
        ({"title": "  "}, "title"),
    ],
)
def test_bad_fields_are_refused(
    world: World, category: Category, overrides: dict[str, Any], field: str
) -> None:
    if overrides.pop("end_before_start", False):
        start, end = past()
        overrides = {"start": end, "end": start}
    with pytest.raises(ValidationFailed) as exc:
        make(world, category, **overrides)
    _field_error(exc, field)
    assert not Activity.objects.exists()


def test_counts_at_the_bounds_are_accepted(world: World, category: Category) -> None:
    activity = make(world, category, beneficiaries=0, materials=1_000_000)
    assert (activity.beneficiaries, activity.materials) == (0, 1_000_000)


@pytest.mark.parametrize(
    ("hours", "message_part"), [("0", "more than 0"), ("25", "at most 24"), ("3.5", "lasted")]
)
def test_bad_hours_are_refused(
    world: World, category: Category, volunteer: Volunteer, hours: str, message_part: str
) -> None:
    # The activity lasts 3 hours.
    with pytest.raises(ValidationFailed) as exc:
        services.activity_create(
            actor=world.station_manager,
            data=data_for(
                world, category, participants=[{"volunteer": volunteer.pk, "hours": hours}]
            ),
        )
    assert message_part in exc.value.detail["participants.0.hours"][0]


def test_a_volunteer_listed_twice_is_refused(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    people = [{"volunteer": volunteer.pk, "hours": "1"}, {"volunteer": volunteer.pk, "hours": "2"}]
    with pytest.raises(ValidationFailed) as exc:
        services.activity_create(
            actor=world.station_manager, data=data_for(world, category, participants=people)
        )
    assert "twice" in exc.value.detail["participants.1.volunteer"][0]


def test_volunteers_outside_scope_or_inactive_are_refused(world: World, category: Category) -> None:
    stranger = make_volunteer(world.other_station, name="外县人")
    suspended = make_volunteer(world.station, name="停用人", status=VolunteerStatus.SUSPENDED)
    people = [
        {"volunteer": stranger.pk, "hours": "1"},
        {"volunteer": suspended.pk, "hours": "1"},
        {"volunteer": 987654, "hours": "1"},
    ]
    with pytest.raises(ValidationFailed) as exc:
        services.activity_create(
            actor=world.station_manager, data=data_for(world, category, participants=people)
        )
    detail = exc.value.detail
    assert "no such volunteer" in detail["participants.0.volunteer"][0]
    assert "active" in detail["participants.1.volunteer"][0]
    assert "no such volunteer" in detail["participants.2.volunteer"][0]


def test_the_team_must_be_in_the_units_line(world: World, category: Category) -> None:
    town_team = Team.objects.create(name="一镇宣讲队", unit=world.town, category=category)
    point_team = Team.objects.create(name="一村点小队", unit=world.point, category=category)
    aside = Team.objects.create(name="二村宣讲队", unit=world.station2, category=category)
    assert make(world, category, team=town_team).team == town_team
    assert make(world, category, team=point_team).team == point_team
    with pytest.raises(ValidationFailed) as exc:
        make(world, category, team=aside)
    _field_error(exc, "team")


@pytest.mark.parametrize(
    ("who", "unit", "error"),
    [
        ("no_role", "station", NotFound),
        ("other_coordinator", "station", NotFound),
        ("station_manager", "town", NotFound),
        ("station_manager", "station2", NotFound),
    ],
)
def test_who_may_not_create(
    world: World, category: Category, who: str, unit: str, error: type
) -> None:
    with pytest.raises(error):
        make(world, category, actor=getattr(world, who), unit=getattr(world, unit))


@pytest.mark.parametrize(
    ("who", "unit"),
    [("station_manager", "point"), ("town_manager", "station"), ("coordinator", "centre")],
)
def test_who_may_create(world: World, category: Category, who: str, unit: str) -> None:
    activity = make(world, category, actor=getattr(world, who), unit=getattr(world, unit))
    assert activity.unit == getattr(world, unit)


# --- editing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state", [ActivityStatus.PLANNED, ActivityStatus.DRAFT, ActivityStatus.RETURNED]
)
def test_editable_states(
    world: World, category: Category, volunteer: Volunteer, state: str
) -> None:
    activity = in_state(world, category, volunteer, state)
    updated = services.activity_update(
        actor=world.station_manager, activity=activity, data={"title": "改过的标题", "materials": 5}
    )
    assert (updated.title, updated.materials, updated.status) == ("改过的标题", 5, state)
    assert AuditEntry.objects.filter(action=AuditAction.ACTIVITY_CHANGED).exists()


@pytest.mark.parametrize("state", [ActivityStatus.SUBMITTED, ActivityStatus.APPROVED])
def test_submitted_and_approved_are_not_edited(
    world: World, category: Category, volunteer: Volunteer, state: str
) -> None:
    activity = in_state(world, category, volunteer, state)
    with pytest.raises(InvalidTransition):
        services.activity_update(
            actor=world.station_manager, activity=activity, data={"title": "x"}
        )


def test_update_replaces_the_participants(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    other = make_volunteer(world.station, name="赵志愿")
    activity = make(world, category, volunteer)
    services.activity_update(
        actor=world.station_manager,
        activity=activity,
        data={"participants": [{"volunteer": other.pk, "hours": "1.5"}]},
    )
    assert [(p.volunteer_id, p.hours) for p in activity.participants.all()] == [
        (other.pk, Decimal("1.50"))
    ]


def test_shortening_below_the_hours_is_refused(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    activity = make(world, category, volunteer)  # 3 hours, 2 hours each
    with pytest.raises(ValidationFailed) as exc:
        services.activity_update(
            actor=world.station_manager,
            activity=activity,
            data={"end": activity.start + dt.timedelta(hours=1)},
        )
    _field_error(exc, "participants.0.hours")


def test_planned_becomes_a_draft_once_past(world: World, category: Category) -> None:
    start, end = past()
    activity = make(world, category, status="planned", start=start, end=end)
    updated = services.activity_update(
        actor=world.station_manager, activity=activity, data={"status": "draft"}
    )
    assert updated.status == ActivityStatus.DRAFT


def test_planned_in_the_future_stays_planned(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    activity = in_state(world, category, volunteer, ActivityStatus.PLANNED)
    with pytest.raises(ValidationFailed) as exc:
        services.activity_update(
            actor=world.station_manager, activity=activity, data={"status": "draft"}
        )
    assert exc.value.code == "date_in_future"
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PLANNED


@pytest.mark.parametrize("target", ["planned", "submitted", "approved"])
def test_update_does_not_make_other_transitions(
    world: World, category: Category, volunteer: Volunteer, target: str
) -> None:
    activity = make(world, category, volunteer)
    with pytest.raises(InvalidTransition):
        services.activity_update(
            actor=world.station_manager, activity=activity, data={"status": target}
        )


def test_other_county_cannot_edit(world: World, category: Category, volunteer: Volunteer) -> None:
    activity = make(world, category, volunteer)
    with pytest.raises(NotFound):
        services.activity_update(
            actor=world.other_coordinator, activity=activity, data={"title": "x"}
        )


# --- submitting -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [ActivityStatus.DRAFT, ActivityStatus.RETURNED])
def test_submit_creates_pending_records(
    world: World, category: Category, volunteer: Volunteer, state: str
) -> None:
    activity = in_state(world, category, volunteer, state)
    submitted = services.activity_submit(actor=world.station_manager, activity=activity)
    assert submitted.status == ActivityStatus.SUBMITTED
    assert submitted.submitted_at is not None
    record = submitted.participants.get().record
    assert record is not None
    assert (record.status, record.hours, record.source, record.source_id) == (
        RecordStatus.PENDING,
        Decimal("2.00"),
        "activity",
        activity.pk,
    )
    assert record.date == timezone.localtime(activity.start).date()
    assert record.recorded_by == world.station_manager
    live = ServiceRecord.objects.filter(volunteer=volunteer).exclude(status=RecordStatus.VOID)
    assert live.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.ACTIVITY_SUBMITTED).exists()


@pytest.mark.parametrize(
    "state", [ActivityStatus.PLANNED, ActivityStatus.SUBMITTED, ActivityStatus.APPROVED]
)
def test_submit_refused(world: World, category: Category, volunteer: Volunteer, state: str) -> None:
    activity = in_state(world, category, volunteer, state)
    with pytest.raises(InvalidTransition):
        services.activity_submit(actor=world.station_manager, activity=activity)


def test_submit_without_participants(world: World, category: Category) -> None:
    activity = make(world, category)
    assert services.activity_submit(actor=world.station_manager, activity=activity).status == (
        ActivityStatus.SUBMITTED
    )


# --- approving and returning ------------------------------------------------------------------


def test_county_coordinator_approves_and_hours_are_confirmed(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    activity = in_state(world, category, volunteer, ActivityStatus.SUBMITTED)
    approved = services.activity_approve(actor=world.coordinator, activity=activity)
    assert approved.status == ActivityStatus.APPROVED
    assert (approved.reviewed_by, approved.reviewed_at is not None) == (world.coordinator, True)
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == Decimal("2.00")
    assert approved.participants.get().record.status == RecordStatus.CONFIRMED
    assert AuditEntry.objects.filter(action=AuditAction.ACTIVITY_APPROVED).exists()


def test_an_activitys_hours_are_not_confirmed_around_the_review(
    world: World, category: Category, volunteer: Volunteer, api: Any
) -> None:
    """The hours page and API refuse to confirm a submitted activity's record alone: that
    would count hours the level above has not reviewed (the activity stays submitted)."""
    from volunteers.hours import record_confirm

    activity = in_state(world, category, volunteer, ActivityStatus.SUBMITTED)
    record = activity.participants.get().record
    with pytest.raises(InvalidTransition) as refused:
        record_confirm(actor=world.coordinator, record=record)
    assert refused.value.code == "confirmed_by_review"
    answer = api(world.coordinator).post(f"/api/v1/service-records/{record.pk}/confirm/")
    assert answer.status_code == 409 and answer.json()["code"] == "confirmed_by_review"
    record.refresh_from_db()
    volunteer.refresh_from_db()
    assert (record.status, volunteer.confirmed_hours) == (RecordStatus.PENDING, Decimal(0))


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("station_manager", PermissionDenied),  # their own unit
        ("town_manager", PermissionDenied),  # above, but not a coordinator
        ("other_coordinator", NotFound),
        ("no_role", NotFound),
    ],
)
def test_who_may_not_review(
    world: World, category: Category, volunteer: Volunteer, who: str, error: type
) -> None:
    activity = in_state(world, category, volunteer, ActivityStatus.SUBMITTED)
    with pytest.raises(error):
        services.activity_approve(actor=getattr(world, who), activity=activity)
    with pytest.raises(error):
        services.activity_return(actor=getattr(world, who), activity=activity, reason="不行")
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.SUBMITTED


def test_no_one_approves_their_own_units_report(world: World, category: Category) -> None:
    volunteer = make_volunteer(world.town, name="镇志愿")
    town_activity = make(world, category, volunteer, actor=world.town_manager, unit=world.town)
    services.activity_submit(actor=world.town_manager, activity=town_activity)
    centre_activity = make(world, category, volunteer, actor=world.coordinator, unit=world.centre)
    services.activity_submit(actor=world.coordinator, activity=centre_activity)
    # The station manager does not see the town's report; the town manager cannot approve
    # their own town's; the county coordinator can.
    with pytest.raises(NotFound):
        services.activity_approve(actor=world.station_manager, activity=town_activity)
    with pytest.raises(PermissionDenied):
        services.activity_approve(actor=world.town_manager, activity=town_activity)
    assert services.activity_approve(actor=world.coordinator, activity=town_activity).status == (
        ActivityStatus.APPROVED
    )
    # Nothing above the centre: its coordinator cannot approve its own; a superuser can.
    with pytest.raises(PermissionDenied):
        services.activity_approve(actor=world.coordinator, activity=centre_activity)
    assert services.activity_approve(actor=world.superuser, activity=centre_activity).status == (
        ActivityStatus.APPROVED
    )


def test_the_approver_never_confirms_what_they_recorded(world: World, category: Category) -> None:
    # The county coordinator logs and submits a station's activity, then tries to approve it.
    volunteer = make_volunteer(world.station, name="孙志愿")
    activity = make(world, category, volunteer, actor=world.coordinator)
    services.activity_submit(actor=world.coordinator, activity=activity)
    with pytest.raises(PermissionDenied) as exc:
        services.activity_approve(actor=world.coordinator, activity=activity)
    assert exc.value.code == "confirm_own_record"
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.SUBMITTED
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == 0


@pytest.mark.parametrize(
    "state",
    [
        ActivityStatus.PLANNED,
        ActivityStatus.DRAFT,
        ActivityStatus.APPROVED,
        ActivityStatus.RETURNED,
    ],
)
def test_review_refused_unless_submitted(
    world: World, category: Category, volunteer: Volunteer, state: str
) -> None:
    activity = in_state(world, category, volunteer, state)
    with pytest.raises(InvalidTransition):
        services.activity_approve(actor=world.coordinator, activity=activity)
    with pytest.raises(InvalidTransition):
        services.activity_return(actor=world.coordinator, activity=activity, reason="再看看")


def test_return_voids_the_records_and_resubmission_records_anew(
    world: World, category: Category, volunteer: Volunteer
) -> None:
    activity = in_state(world, category, volunteer, ActivityStatus.SUBMITTED)
    first = activity.participants.get().record
    returned = services.activity_return(
        actor=world.coordinator, activity=activity, reason="人数不对"
    )
    assert (returned.status, returned.return_reason) == (ActivityStatus.RETURNED, "人数不对")
    first.refresh_from_db()
    assert first.status == RecordStatus.VOID
    assert AuditEntry.objects.filter(action=AuditAction.ACTIVITY_RETURNED).exists()
    services.activity_update(
        actor=world.station_manager, activity=returned, data={"beneficiaries": 90}
    )
    services.activity_submit(actor=world.station_manager, activity=returned)
    second = returned.participants.get().record
    assert second is not None and second.pk != first.pk
    assert second.status == RecordStatus.PENDING
    approved = services.activity_approve(actor=world.coordinator, activity=returned)
    assert approved.return_reason == ""
    volunteer.refresh_from_db()
    assert volunteer.confirmed_hours == Decimal("2.00")


def test_return_needs_a_reason(world: World, category: Category, volunteer: Volunteer) -> None:
    activity = in_state(world, category, volunteer, ActivityStatus.SUBMITTED)
    with pytest.raises(ValidationFailed) as exc:
        services.activity_return(actor=world.coordinator, activity=activity, reason="  ")
    _field_error(exc, "reason")


def test_a_delivered_requests_activity_is_approved_by_the_county(ow: OrdersWorld) -> None:  # noqa: F811
    request = advance(ow, new_request(ow), RequestStatus.DELIVERED)
    activity = Activity.objects.get(request=request)
    assert activity.status == ActivityStatus.SUBMITTED
    approved = services.activity_approve(actor=ow.w.coordinator, activity=activity)
    assert approved.status == ActivityStatus.APPROVED
    ow.member.refresh_from_db()
    assert ow.member.confirmed_hours == Decimal("2.00")
