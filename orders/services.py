"""Order — menu — deliver: the only writers of menu items and service requests.

Each transition of a request (API.md's table, ``choices.TRANSITIONS``) is one function
here: it re-reads the row under its lock, checks the state (409 ``invalid_transition``
with a message saying why), saves, writes a :class:`RequestEvent` and puts its notices in
the inbox and outbox — all in one transaction, so a notice goes out exactly when the change
commits (:mod:`portal.notify`).

Who may do what:

- residents (no account) submit, and — proving the request is theirs with its tracking
  code and their phone number — follow, cancel and rate it;
- coordinators over the request's unit dispatch and reject (``Action.DISPATCH``);
- managers and coordinators file a request for a resident (``Action.FILE_REQUEST``) and
  keep the menu (``Action.MANAGE_MENU``);
- an active volunteer with an active membership of the dispatched team claims it (the law
  forbids assigning individuals: a team is dispatched, a volunteer opts in); the claimer or
  the team's leader declines or delivers it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant
from portal import notify
from portal.cache import ORDERS, VOLUNTEERS, bump_on_commit
from portal.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
    field_error,
)
from portal.validators import NAME, mask_phone, normalize_mobile, validate_mobile
from practice.choices import AuditAction, Role
from practice.models import Category, RoleAssignment, Unit, User
from practice.permissions import Action, can, require
from practice.services import record_audit
from volunteers.choices import MembershipStatus, TeamRole, VolunteerStatus
from volunteers.hours import clean_hours, records_create_delivered
from volunteers.identity import hash_phone
from volunteers.models import Team, TeamMembership, Volunteer
from volunteers.points import clean_text
from volunteers.selectors import volunteer_of

from .choices import OPEN_STATUSES, TRANSITIONS, ActorKind, RequestStatus, Transition
from .models import MenuItem, RequestEvent, ServiceRequest

__all__ = [
    "TooManyOpenRequests",
    "is_team_leader",
    "may_act_as_team",
    "menu_item_create",
    "menu_item_update",
    "office_staff",
    "request_cancel",
    "request_claim",
    "request_decline",
    "request_deliver",
    "request_dispatch",
    "request_for_requester",
    "request_rate",
    "request_reject",
    "request_review",
    "request_submit",
    "requests_mark_overdue",
]

TITLE_MAX = 100
DESCRIPTION_MAX = 2000
NOTE_MAX = 1000
# Tracking codes: no 0/O, 1/I/L — read aloud over the phone and typed by elderly residents.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
# How far ahead a resident may ask for a date.
DESIRED_DATE_AHEAD = dt.timedelta(days=366)
BENEFICIARIES_MAX = 100_000
PARTICIPANTS_MAX = 200


class TooManyOpenRequests(RateLimited):
    """One phone number with too many requests still open (a flood, or a mistake)."""

    default_code = "too_many_open_requests"


# --- helpers ---------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now()


def _text(value: Any, field: str, max_length: int, *, required: bool, multiline: bool) -> str:
    return clean_text(value, field, max_length, multiline=multiline, required=required)


def _name(value: Any, field: str) -> str:
    try:
        text = NAME.clean(str(value or ""))
    except ValidationError as exc:
        raise field_error(field, " ".join(str(m) for m in exc.messages)) from exc
    if not text:
        raise field_error(field, _("This field is required."), code="required")
    if len(text) > 30:
        raise field_error(field, _("At most 30 characters."), code="too_long")
    return text


def _phone(value: Any, field: str, *, required: bool) -> str:
    phone = normalize_mobile(str(value or ""))
    if not phone:
        if required:
            raise field_error(field, _("Enter a mobile phone number."), code="required")
        return ""
    try:
        validate_mobile(phone)
    except ValidationError as exc:
        raise field_error(field, " ".join(str(m) for m in exc.messages)) from exc
    return phone


def _date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise field_error(field, _("Enter a valid date (YYYY-MM-DD).")) from exc
    return value


def _new_tracking_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def normalize_tracking_code(value: Any) -> str:
    """What a resident types, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in str(value or "").upper() if ch.isalnum())[:20]


def _status_label(status: str) -> str:
    return str(RequestStatus(status).label)


def _action_name(action: str) -> str:
    names: dict[str, str] = {
        Transition.DISPATCH: _("Dispatch"),
        Transition.REJECT: _("Reject"),
        Transition.CLAIM: _("Claim"),
        Transition.DECLINE: _("Give back"),
        Transition.DELIVER: _("Report delivery"),
        Transition.RATE: _("Rate"),
        Transition.CANCEL: _("Cancel"),
    }
    return str(names[action])


def _refuse(request: ServiceRequest, action: str) -> InvalidTransition:
    allowed, _to = TRANSITIONS[action]
    return InvalidTransition(
        _("This request is now “%(status)s”: “%(action)s” is only possible when it is %(allowed)s.")
        % {
            "status": _status_label(request.status),
            "action": _action_name(action),
            "allowed": _(" or ").join(f"“{_status_label(s)}”" for s in sorted(allowed)),
        }
    )


def _locked(request: ServiceRequest | int) -> ServiceRequest:
    pk = request if isinstance(request, int) else request.pk
    try:
        return (
            ServiceRequest.objects.select_for_update(of=("self",))
            .select_related("unit", "team", "claimed_by", "menu_item", "category")
            .get(pk=pk)
        )
    except ServiceRequest.DoesNotExist as exc:
        raise NotFound() from exc


def _event(
    request: ServiceRequest,
    action: str,
    *,
    actor: User | None,
    actor_kind: str,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    public: bool = False,
) -> RequestEvent:
    return RequestEvent.objects.create(
        request=request,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_kind=actor_kind,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        public=public,
    )


def _move(
    request: ServiceRequest,
    action: str,
    *,
    actor: User | None,
    actor_kind: str,
    note: str = "",
    public: bool = False,
    fields: Mapping[str, Any] | None = None,
) -> ServiceRequest:
    """Apply ``action`` to the locked ``request``: check the state, save, write the event."""
    allowed, target = TRANSITIONS[action]
    if request.status not in allowed:
        raise _refuse(request, action)
    before = request.status
    request.status = target
    changed = {"status", "updated_at"}
    for name, value in (fields or {}).items():
        setattr(request, name, value)
        changed.add(name)
    request.save(update_fields=sorted(changed))
    _event(
        request,
        action,
        actor=actor,
        actor_kind=actor_kind,
        from_status=before,
        to_status=target,
        note=note,
        public=public,
    )
    bump_on_commit(ORDERS)
    return request


# --- who is told -----------------------------------------------------------------------------


def office_staff(unit: Unit, *, managers: bool = True) -> list[User]:
    """The office answering for ``unit``: the coordinators of the nearest unit at or above it
    that has any, and (``managers``) the managers of ``unit`` itself. One query."""
    roles = list(
        RoleAssignment.objects.filter(
            unit__tree_id=unit.tree_id,
            unit__lft__lte=unit.lft,
            unit__rght__gte=unit.rght,
            user__is_active=True,
        )
        .select_related("user", "unit")
        .order_by("-unit__level", "pk")
    )
    coordinators = [r for r in roles if r.role == Role.COORDINATOR]
    nearest = coordinators[0].unit.level if coordinators else None
    people = [r.user for r in coordinators if r.unit.level == nearest]
    if managers:
        people += [r.user for r in roles if r.role == Role.MANAGER and r.unit_id == unit.pk]
    return people


def _coordinators_above(unit: Unit) -> list[User]:
    """The coordinators of the nearest unit strictly above ``unit`` that has any (overdue
    requests are escalated there); ``unit``'s own when it is a root."""
    if unit.parent_id is None:
        return office_staff(unit, managers=False)
    parent = Unit.objects.get(pk=unit.parent_id)
    return office_staff(parent, managers=False)


def _team_users(team: Team) -> list[User]:
    return [
        m.volunteer.user  # type: ignore[misc]  # not null: filtered below
        for m in TeamMembership.objects.filter(
            team=team,
            status=MembershipStatus.ACTIVE,
            volunteer__status=VolunteerStatus.ACTIVE,
            volunteer__user__isnull=False,
        ).select_related("volunteer__user")
    ]


def _tell_requester(request: ServiceRequest, text: str) -> None:
    """A text message to the resident, with the tracking link (not for requests filed for
    a resident without a phone)."""
    link = notify.absolute_url(request.get_tracking_url())
    notify.notify_phone(
        phone=request.contact_phone,
        text=_("[%(site)s] %(text)s Follow it: %(link)s")
        % {"site": settings.PORTAL_SITE_NAME, "text": text, "link": link},
        purpose="request",
    )


def _tell_staff(users: Iterable[User], request: ServiceRequest, subject: str, text: str) -> None:
    notify.notify_users(
        users=users,
        subject=subject,
        text=text,
        link=request.get_absolute_url(),
        purpose="request",
    )


# --- the menu --------------------------------------------------------------------------------


MENU_FIELDS = ("unit", "category", "title", "description", "teams", "is_active")


def _menu_teams(item_unit: Unit, teams: Iterable[Team]) -> list[Team]:
    """Teams that may deliver an item of ``item_unit``: active ones of a unit on the path
    above it (a county platform team) or inside its subtree (a village's own team)."""
    chosen = list(teams)
    for team in chosen:
        u = team.unit
        above = (
            u.tree_id == item_unit.tree_id and u.lft <= item_unit.lft and u.rght >= item_unit.rght
        )
        below = u.tree_id == item_unit.tree_id and item_unit.lft <= u.lft <= item_unit.rght
        if not team.is_active or not (above or below):
            raise field_error(
                "teams",
                _(
                    "“%(team)s” cannot deliver this unit's services: choose a team of this "
                    "unit, one above it or one below it."
                )
                % {"team": team.name},
            )
    return chosen


def _check_category(category: Any) -> Category:
    if not isinstance(category, Category) or not category.is_active:
        raise field_error("category", _("Choose one of the service platforms."))
    return category


def menu_item_create(*, actor: User, data: Mapping[str, Any]) -> MenuItem:
    unknown = set(data) - set(MENU_FIELDS)
    if unknown:
        raise ValueError(f"menu_item_create got unexpected fields: {sorted(unknown)}")
    unit = data.get("unit")
    if not isinstance(unit, Unit):
        raise field_error("unit", _("Choose a unit."), code="required")
    require(actor, Action.MANAGE_MENU, unit)
    item = MenuItem(
        unit=unit,
        category=_check_category(data.get("category")),
        title=_text(data.get("title"), "title", TITLE_MAX, required=True, multiline=False),
        description=_text(
            data.get("description"), "description", DESCRIPTION_MAX, required=False, multiline=True
        ),
        is_active=bool(data.get("is_active", True)),
        created_by=actor,
    )
    teams = _menu_teams(unit, data.get("teams") or [])
    with transaction.atomic():
        _save_item(item)
        item.teams.set(teams)
        record_audit(
            actor=actor,
            action=AuditAction.MENU_ITEM_CREATED,
            unit=unit,
            object_repr=item.title,
            changes={"title": item.title, "category": item.category.code, "teams": len(teams)},
        )
        bump_on_commit(ORDERS)
    return item


def _save_item(item: MenuItem) -> None:
    try:
        item.full_clean(exclude=["teams"])
    except ValidationError as exc:
        raise ValidationFailed(
            detail={
                (k if k != "__all__" else "title"): [str(m) for m in v]
                for k, v in exc.message_dict.items()
            }
        ) from exc
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as exc:  # the same title saved at the same moment
        raise field_error(
            "title", _("This unit's menu already has an item with this title."), code="duplicate"
        ) from exc


def menu_item_update(*, actor: User, item: MenuItem, data: Mapping[str, Any]) -> MenuItem:
    """Edit a menu item (not its unit: make a new item at the other unit instead)."""
    require(actor, Action.MANAGE_MENU, item.unit)
    unknown = set(data) - set(MENU_FIELDS) - {"unit"}
    if unknown:
        raise ValueError(f"menu_item_update got unexpected fields: {sorted(unknown)}")
    if "unit" in data and data["unit"] != item.unit:
        raise field_error("unit", _("A menu item stays at its unit; create one at the other unit."))
    changes: dict[str, Any] = {}
    with transaction.atomic():
        item = (
            MenuItem.objects.select_for_update().select_related("unit", "category").get(pk=item.pk)
        )
        if "category" in data:
            category = _check_category(data["category"])
            if category != item.category:
                changes["category"] = [item.category.code, category.code]
                item.category = category
        for field, max_length, multiline in (
            ("title", TITLE_MAX, False),
            ("description", DESCRIPTION_MAX, True),
        ):
            if field in data:
                value = _text(
                    data[field], field, max_length, required=field == "title", multiline=multiline
                )
                if value != getattr(item, field):
                    changes[field] = [getattr(item, field), value]
                    setattr(item, field, value)
        if "is_active" in data and bool(data["is_active"]) != item.is_active:
            changes["is_active"] = [item.is_active, bool(data["is_active"])]
            item.is_active = bool(data["is_active"])
        _save_item(item)
        if "teams" in data:
            teams = _menu_teams(item.unit, data["teams"] or [])
            before = sorted(item.teams.values_list("pk", flat=True))
            if sorted(t.pk for t in teams) != before:
                changes["teams"] = [len(before), len(teams)]
                item.teams.set(teams)
        if changes:
            record_audit(
                actor=actor,
                action=AuditAction.MENU_ITEM_CHANGED,
                unit=item.unit,
                object_repr=item.title,
                changes=changes,
            )
            bump_on_commit(ORDERS)
    return item


def offered_at(item: MenuItem, unit: Unit) -> bool:
    """Is ``item`` on the menu of ``unit`` (defined there or at a unit above it)?"""
    u = item.unit
    return u.tree_id == unit.tree_id and u.lft <= unit.lft and u.rght >= unit.rght


# --- submitting ------------------------------------------------------------------------------


def _open_limit() -> int:
    return int(settings.ORDERS_OPEN_PER_PHONE)


def request_submit(
    *, data: Mapping[str, Any], actor: User | None = None, channel: str | None = None
) -> ServiceRequest:
    """A resident's request (public), or one filed for a resident by station staff
    (``data["on_behalf"]``, needs FILE_REQUEST on the unit; the phone may then be left
    out). Returns it with its tracking code; the resident gets it by text message too."""
    on_behalf = bool(data.get("on_behalf"))
    unit = data.get("unit")
    if not isinstance(unit, Unit) or not unit.is_active:
        raise field_error(
            "unit", _("Choose the station where you need the service."), code="required"
        )
    if on_behalf:
        if actor is None or not actor.is_authenticated:
            raise PermissionDenied(_("Log in to file a request for a resident."))
        require(actor, Action.FILE_REQUEST, unit)
    item = data.get("menu_item")
    if item is not None:
        if not isinstance(item, MenuItem) or not item.is_active or not offered_at(item, unit):
            raise field_error("menu_item", _("This service is not on this station's menu."))
        category = item.category
        if data.get("category") not in (None, "", category):
            raise field_error("category", _("The service chosen belongs to another platform."))
    else:
        category = _check_category(data.get("category"))
    description = _text(
        data.get("description"),
        "description",
        DESCRIPTION_MAX,
        required=item is None,
        multiline=True,
    )
    title = _text(data.get("title"), "title", TITLE_MAX, required=False, multiline=False)
    if not title:
        title = item.title if item is not None else description.splitlines()[0][:40]
    name = _name(data.get("contact_name"), "contact_name")
    phone = _phone(data.get("contact_phone"), "contact_phone", required=not on_behalf)
    desired = _date(data.get("desired_date"), "desired_date")
    today = timezone.localdate()
    if desired is not None and not today <= desired <= today + DESIRED_DATE_AHEAD:
        raise field_error(
            "desired_date", _("Choose a date from today to a year ahead."), code="date_out_of_range"
        )
    address = _text(data.get("address"), "address", 200, required=False, multiline=False)
    phone_hash = hash_phone(phone) if phone else ""
    if channel is None:
        channel = ServiceRequest.Channel.ON_BEHALF if on_behalf else ServiceRequest.Channel.WEB
    with transaction.atomic():
        if phone_hash and not on_behalf:
            open_now = ServiceRequest.objects.filter(
                contact_phone_hash=phone_hash, status__in=OPEN_STATUSES
            ).count()
            if open_now >= _open_limit():
                raise TooManyOpenRequests(
                    _(
                        "This phone number already has %(n)d requests waiting. Please wait until "
                        "they are done, or call the station."
                    )
                    % {"n": open_now}
                )
        request = ServiceRequest(
            unit=unit,
            category=category,
            menu_item=item,
            title=title,
            description=description,
            contact_name=name,
            contact_phone=phone,
            contact_phone_hash=phone_hash,
            contact_phone_masked=mask_phone(phone),
            desired_date=desired,
            address=address,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            channel=channel,
            filed_by=actor if on_behalf else None,
        )
        for _attempt in range(5):
            request.tracking_code = _new_tracking_code()
            try:
                with transaction.atomic():
                    request.save()
                break
            except IntegrityError:  # the one-in-a-trillion collision of codes
                request.pk = None
        else:  # pragma: no cover - 31⁸ codes
            raise RuntimeError("could not draw a free tracking code")
        _event(
            request,
            Transition.SUBMIT,
            actor=actor if on_behalf else None,
            actor_kind=ActorKind.STAFF if on_behalf else ActorKind.RESIDENT,
            to_status=RequestStatus.SUBMITTED,
            note=_("Filed by station staff for the resident.") if on_behalf else "",
            public=on_behalf,
        )
        bump_on_commit(ORDERS)
        with notify.in_portal_language():
            _tell_staff(
                office_staff(unit),
                request,
                _("New request at %(unit)s: %(title)s") % {"unit": unit.name, "title": title},
                _("%(name)s asks for “%(title)s”. Dispatch it to a team or answer it.")
                % {"name": name, "title": title},
            )
            _tell_requester(
                request,
                _("We received your request “%(title)s”. Tracking code %(code)s.")
                % {"title": title, "code": request.tracking_code},
            )
    return request


def request_for_requester(*, code: Any, phone: Any) -> ServiceRequest:
    """The request whose tracking code is ``code`` *and* whose contact phone is ``phone``;
    404 otherwise — the same answer whichever of the two is wrong."""
    code = normalize_tracking_code(code)
    number = normalize_mobile(str(phone or ""))
    if len(code) != CODE_LENGTH or not number:
        raise NotFound(_("No request matches this code and phone number."))
    found = (
        ServiceRequest.objects.select_related("unit", "category", "menu_item")
        .filter(tracking_code=code, contact_phone_hash=hash_phone(number))
        .first()
    )
    if found is None:
        raise NotFound(_("No request matches this code and phone number."))
    return found


# --- the office: dispatch, reject, look at low ratings ------------------------------------


def _team_may_serve(actor: User, team: Team, unit: Unit) -> bool:
    u = team.unit
    above = u.tree_id == unit.tree_id and u.lft <= unit.lft and u.rght >= unit.rght
    return above or can(actor, Action.VIEW, u)


def request_dispatch(
    *,
    actor: User,
    request: ServiceRequest,
    team: Team | None,
    due_date: Any,
    menu_item: MenuItem | None = None,
    note: Any = "",
) -> ServiceRequest:
    require(actor, Action.DISPATCH, request.unit)
    if not isinstance(team, Team):
        raise field_error("team", _("Choose the team to send it to."), code="required")
    if not team.is_active or not _team_may_serve(actor, team, request.unit):
        raise field_error("team", _("This team cannot take requests of this station."))
    due = _date(due_date, "due_date")
    if due is None:
        raise field_error(
            "due_date", _("Give the date by which it should be done."), code="required"
        )
    if due < timezone.localdate():
        raise field_error(
            "due_date", _("The due date may not be in the past."), code="date_in_past"
        )
    if menu_item is not None and (
        not menu_item.is_active or not offered_at(menu_item, request.unit)
    ):
        raise field_error("menu_item", _("This service is not on this station's menu."))
    note_text = _text(note, "note", NOTE_MAX, required=False, multiline=True)
    now = _now()
    with transaction.atomic():
        locked = _locked(request)
        fields: dict[str, Any] = {
            "team": team,
            "due_date": due,
            "dispatched_at": now,
            "dispatched_by": actor,
            "overdue_at": None,
        }
        if menu_item is not None:
            fields["menu_item"] = menu_item
            fields["category"] = menu_item.category
        if locked.responded_at is None:
            fields["responded_at"] = now
        _move(
            locked,
            Transition.DISPATCH,
            actor=actor,
            actor_kind=ActorKind.STAFF,
            note=note_text,
            fields=fields,
        )
        with notify.in_portal_language():
            _tell_staff(
                _team_users(team),
                locked,
                _("A request for your team: %(title)s") % {"title": locked.title},
                _("%(unit)s needs “%(title)s” by %(due)s. Claim it if you can do it.")
                % {"unit": locked.unit.name, "title": locked.title, "due": due.isoformat()},
            )
            _tell_requester(
                locked,
                _("Your request “%(title)s” was passed to a volunteer team.")
                % {"title": locked.title},
            )
    return locked


def request_reject(*, actor: User, request: ServiceRequest, reason: Any) -> ServiceRequest:
    require(actor, Action.DISPATCH, request.unit)
    reason_text = _text(reason, "reason", NOTE_MAX, required=True, multiline=True)
    with transaction.atomic():
        locked = _locked(request)
        fields = {"responded_at": locked.responded_at or _now()}
        _move(
            locked,
            Transition.REJECT,
            actor=actor,
            actor_kind=ActorKind.STAFF,
            note=reason_text,
            public=True,
            fields=fields,
        )
        with notify.in_portal_language():
            _tell_requester(
                locked,
                _("Your request “%(title)s” cannot be served: %(reason)s")
                % {"title": locked.title, "reason": reason_text},
            )
    return locked


def request_review(*, actor: User, request: ServiceRequest, note: Any) -> ServiceRequest:
    """A coordinator notes that they looked at a low rating (and what they did)."""
    require(actor, Action.DISPATCH, request.unit)
    note_text = _text(note, "note", NOTE_MAX, required=True, multiline=True)
    with transaction.atomic():
        locked = _locked(request)
        if not locked.needs_review:
            raise InvalidTransition(_("This request has no low rating waiting to be looked at."))
        locked.needs_review = False
        locked.save(update_fields=["needs_review", "updated_at"])
        _event(locked, Transition.REVIEW, actor=actor, actor_kind=ActorKind.STAFF, note=note_text)
    return locked


# --- the team: claim, decline, deliver -------------------------------------------------------


def _active_volunteer(user: Any) -> Volunteer:
    volunteer = volunteer_of(user)
    if volunteer is None or volunteer.status != VolunteerStatus.ACTIVE:
        raise PermissionDenied(_("Only active volunteers can take on requests."))
    return volunteer


def _membership(volunteer: Volunteer, team: Team | None) -> TeamMembership | None:
    if team is None:
        return None
    return TeamMembership.objects.filter(
        team=team, volunteer=volunteer, status=MembershipStatus.ACTIVE
    ).first()


def is_team_leader(volunteer: Volunteer | None, team: Team | None) -> bool:
    if volunteer is None or team is None:
        return False
    if team.leader_id == volunteer.pk:
        return True
    membership = _membership(volunteer, team)
    return membership is not None and membership.role == TeamRole.LEADER


def may_act_as_team(user: Any, request: ServiceRequest) -> bool:
    """May ``user`` decline or deliver ``request``: its claimer, or its team's leader?"""
    volunteer = volunteer_of(user)
    if volunteer is None or volunteer.status != VolunteerStatus.ACTIVE:
        return False
    if request.claimed_by_id == volunteer.pk:
        return True
    return is_team_leader(volunteer, request.team)


def request_claim(*, actor: User, request: ServiceRequest) -> ServiceRequest:
    """The volunteer ``actor`` takes the request on. Of many claiming at once exactly one
    wins (the row lock); the others get 409."""
    volunteer = _active_volunteer(actor)
    with transaction.atomic():
        locked = _locked(request)
        if _membership(volunteer, locked.team) is None:
            if locked.status != RequestStatus.DISPATCHED:
                raise _refuse(locked, Transition.CLAIM)
            raise PermissionDenied(_("Only members of the team it was sent to can claim it."))
        if locked.status != RequestStatus.DISPATCHED:
            raise InvalidTransition(
                _("Someone else has just claimed it.")
                if locked.status == RequestStatus.CLAIMED
                else str(_refuse(locked, Transition.CLAIM).message)
            )
        _move(
            locked,
            Transition.CLAIM,
            actor=actor,
            actor_kind=ActorKind.VOLUNTEER,
            fields={"claimed_by": volunteer, "claimed_at": _now()},
        )
        with notify.in_portal_language():
            _tell_requester(
                locked,
                _("A volunteer will come for your request “%(title)s”.") % {"title": locked.title},
            )
    return locked


def _require_team_side(actor: User, request: ServiceRequest) -> None:
    if not may_act_as_team(actor, request):
        raise PermissionDenied(
            _("Only the volunteer who claimed it or the team's leader can do this.")
        )


def request_decline(*, actor: User, request: ServiceRequest, reason: Any) -> ServiceRequest:
    """The team gives the request back to the office (it goes back to ``submitted``)."""
    reason_text = _text(reason, "reason", NOTE_MAX, required=True, multiline=True)
    with transaction.atomic():
        locked = _locked(request)
        if locked.status not in TRANSITIONS[Transition.DECLINE][0]:
            raise _refuse(locked, Transition.DECLINE)
        _require_team_side(actor, locked)
        team = locked.team
        _move(
            locked,
            Transition.DECLINE,
            actor=actor,
            actor_kind=ActorKind.VOLUNTEER,
            note=reason_text,
            fields={
                "team": None,
                "claimed_by": None,
                "claimed_at": None,
                "due_date": None,
                "dispatched_at": None,
                "overdue_at": None,
            },
        )
        with notify.in_portal_language():
            _tell_staff(
                office_staff(locked.unit, managers=False),
                locked,
                _("Request given back: %(title)s") % {"title": locked.title},
                _("%(team)s cannot do it: %(reason)s. Dispatch it again.")
                % {"team": team.name if team else "", "reason": reason_text},
            )
    return locked


def _participants(
    request: ServiceRequest, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Volunteer, Decimal]]:
    if not isinstance(rows, list | tuple) or not rows:
        raise field_error("participants", _("Name at least one volunteer."), code="required")
    if len(rows) > PARTICIPANTS_MAX:
        raise field_error("participants", _("Too many volunteers in one report."))
    detail: dict[str, list[str]] = {}
    wanted: list[tuple[int, Any, Any]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            detail[f"participants.{index}"] = [_("Give a volunteer and their hours.")]
            continue
        volunteer = row.get("volunteer")
        wanted.append(
            (
                index,
                volunteer.pk if isinstance(volunteer, Volunteer) else volunteer,
                row.get("hours"),
            )
        )
    members = {
        m.volunteer_id: m.volunteer
        for m in TeamMembership.objects.filter(
            team=request.team,
            status=MembershipStatus.ACTIVE,
            volunteer_id__in=[pk for _i, pk, _h in wanted if isinstance(pk, int)],
        ).select_related("volunteer__unit")
    }
    seen: set[int] = set()
    out: list[tuple[Volunteer, Decimal]] = []
    for index, pk, hours in wanted:
        if not isinstance(pk, int) or pk not in members:
            detail[f"participants.{index}.volunteer"] = [
                _("Only members of the team that delivered it can be listed.")
            ]
            continue
        if pk in seen:
            detail[f"participants.{index}.volunteer"] = [_("This volunteer is listed twice.")]
            continue
        seen.add(pk)
        try:
            out.append((members[pk], clean_hours(hours)))
        except ValidationFailed as exc:
            detail[f"participants.{index}.hours"] = [str(exc.message)]
    if detail:
        raise ValidationFailed(detail=detail)
    return out


def _when(value: Any, field: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, dt.datetime):
        try:
            value = dt.datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise field_error(field, _("Enter a valid date and time.")) from exc
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def request_deliver(
    *,
    actor: User,
    request: ServiceRequest,
    summary: Any,
    beneficiaries: Any,
    participants: Sequence[Mapping[str, Any]],
    start: Any = None,
    end: Any = None,
) -> ServiceRequest:
    """The team reports the service done: what was done, for how many people, who took part
    and for how long. Creates the activity record (submitted for review) and pending service
    records for the participants, which the office confirms (the second person)."""
    summary_text = _text(summary, "summary", DESCRIPTION_MAX, required=True, multiline=True)
    if isinstance(beneficiaries, bool) or not isinstance(beneficiaries, int | str):
        raise field_error("beneficiaries", _("Enter a whole number."))
    try:
        served = int(str(beneficiaries).strip())
    except ValueError as exc:
        raise field_error("beneficiaries", _("Enter a whole number.")) from exc
    if not 0 <= served <= BENEFICIARIES_MAX:
        raise field_error(
            "beneficiaries",
            _("Enter a number from 0 to %(max)d.") % {"max": BENEFICIARIES_MAX},
        )
    now = _now()
    end_at = _when(end, "end") or now
    if end_at > now + dt.timedelta(minutes=5):
        raise field_error("end", _("A service cannot end in the future."), code="date_in_future")
    with transaction.atomic():
        locked = _locked(request)
        if locked.status != RequestStatus.CLAIMED:
            raise _refuse(locked, Transition.DELIVER)
        _require_team_side(actor, locked)
        people = _participants(locked, participants)
        longest = max(hours for _v, hours in people)
        start_at = _when(start, "start") or end_at - dt.timedelta(hours=float(longest))
        if start_at >= end_at:
            raise field_error("start", _("The start must be before the end."))
        if longest > Decimal((end_at - start_at).total_seconds()) / 3600:
            raise field_error(
                "participants", _("No one can have more hours than the service lasted.")
            )
        if locked.claimed_at and start_at < locked.claimed_at - dt.timedelta(days=1):
            raise field_error("start", _("The service cannot start before it was claimed."))
        _move(
            locked,
            Transition.DELIVER,
            actor=actor,
            actor_kind=ActorKind.VOLUNTEER,
            note=summary_text,
            public=True,
            fields={"delivered_at": now, "summary": summary_text, "beneficiaries": served},
        )
        activity = Activity.objects.create(
            title=locked.title,
            unit=locked.unit,
            category=locked.category,
            team=locked.team,
            start=start_at,
            end=end_at,
            location=locked.address or locked.unit.address,
            description=summary_text,
            beneficiaries=served,
            status=ActivityStatus.SUBMITTED,
            request=locked,
            created_by=actor,
            submitted_at=now,
        )
        records = records_create_delivered(
            recorded_by=actor,
            unit=locked.unit,
            date=timezone.localtime(end_at).date(),
            category=locked.category,
            request_id=locked.pk,
            participants=people,
            content=locked.title[:200],
        )
        by_volunteer = {r.volunteer_id: r for r in records}
        ActivityParticipant.objects.bulk_create(
            ActivityParticipant(
                activity=activity, volunteer=v, hours=h, record=by_volunteer.get(v.pk)
            )
            for v, h in people
        )
        bump_on_commit(VOLUNTEERS)
        with notify.in_portal_language():
            _tell_requester(
                locked,
                _("Your request “%(title)s” has been delivered. Please rate the service.")
                % {"title": locked.title},
            )
            _tell_staff(
                office_staff(locked.unit),
                locked,
                _("Delivered: %(title)s") % {"title": locked.title},
                _("%(n)d volunteer(s) reported %(hours)s hours; confirm their service records.")
                % {"n": len(people), "hours": sum((h for _v, h in people), Decimal(0))},
            )
    return locked


# --- the resident: cancel, rate --------------------------------------------------------------


def request_cancel(*, request: ServiceRequest, code: Any, phone: Any) -> ServiceRequest:
    _prove(request, code, phone)
    with transaction.atomic():
        locked = _locked(request)
        team = locked.team
        _move(locked, Transition.CANCEL, actor=None, actor_kind=ActorKind.RESIDENT, public=True)
        with notify.in_portal_language():
            people = office_staff(locked.unit, managers=False)
            if team is not None:
                people += _team_users(team)
            _tell_staff(
                people,
                locked,
                _("Cancelled by the resident: %(title)s") % {"title": locked.title},
                _("The resident no longer needs “%(title)s”.") % {"title": locked.title},
            )
    return locked


def _prove(request: ServiceRequest, code: Any, phone: Any) -> None:
    found = request_for_requester(code=code, phone=phone)
    if found.pk != request.pk:
        raise NotFound(_("No request matches this code and phone number."))


def request_rate(
    *, request: ServiceRequest, code: Any, phone: Any, rating: Any, comment: Any = ""
) -> ServiceRequest:
    """The resident rates the delivered service 1–5; 1 or 2 asks the office to look at it."""
    _prove(request, code, phone)
    if isinstance(rating, bool):
        raise field_error("rating", _("Choose a rating from 1 to 5."))
    try:
        stars = int(str(rating).strip())
    except ValueError as exc:
        raise field_error("rating", _("Choose a rating from 1 to 5.")) from exc
    if not 1 <= stars <= 5:
        raise field_error("rating", _("Choose a rating from 1 to 5."))
    comment_text = _text(comment, "comment", NOTE_MAX, required=False, multiline=True)
    low = stars <= int(settings.ORDERS_REVIEW_RATING_AT_MOST)
    with transaction.atomic():
        locked = _locked(request)
        _move(
            locked,
            Transition.RATE,
            actor=None,
            actor_kind=ActorKind.RESIDENT,
            note=comment_text,
            public=True,
            fields={
                "rating": stars,
                "rating_comment": comment_text,
                "closed_at": _now(),
                "needs_review": low,
            },
        )
        if low:
            with notify.in_portal_language():
                _tell_staff(
                    office_staff(locked.unit, managers=False),
                    locked,
                    _("Low rating (%(n)d/5): %(title)s") % {"n": stars, "title": locked.title},
                    _("The resident rated it %(n)d/5: %(comment)s. Look at the case.")
                    % {"n": stars, "comment": comment_text or "—"},
                )
    return locked


# --- overdue ---------------------------------------------------------------------------------


def overdue_q(now: dt.datetime | None = None) -> Q:
    """Requests late now: dispatched but not claimed within ``ORDERS_CLAIM_WITHIN_HOURS``,
    or dispatched/claimed and past their due date."""
    now = now or _now()
    today = timezone.localdate(now)
    unclaimed = Q(
        status=RequestStatus.DISPATCHED,
        dispatched_at__lt=now - dt.timedelta(hours=int(settings.ORDERS_CLAIM_WITHIN_HOURS)),
    )
    late = Q(status__in=[RequestStatus.DISPATCHED, RequestStatus.CLAIMED], due_date__lt=today)
    return unclaimed | late


def requests_mark_overdue(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Mark the late requests overdue — once each: a conditional update claims the row — and
    tell the coordinators of the unit above. Returns how many were marked."""
    now = now or _now()
    pks = list(
        ServiceRequest.objects.filter(overdue_q(now), overdue_at__isnull=True)
        .order_by("due_date", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    marked = 0
    for pk in pks:
        with transaction.atomic():
            if not ServiceRequest.objects.filter(pk=pk, overdue_at__isnull=True).update(
                overdue_at=now
            ):
                continue  # another run took it
            request = ServiceRequest.objects.select_related("unit", "team").get(pk=pk)
            _event(
                request,
                Transition.OVERDUE,
                actor=None,
                actor_kind=ActorKind.SYSTEM,
                note=(
                    _("Not claimed in time.")
                    if request.status == RequestStatus.DISPATCHED
                    and (request.due_date is None or request.due_date >= timezone.localdate(now))
                    else _("Not delivered by the due date.")
                ),
            )
            with notify.in_portal_language():
                _tell_staff(
                    _coordinators_above(request.unit),
                    request,
                    _("Overdue: %(title)s (%(unit)s)")
                    % {"title": request.title, "unit": request.unit.name},
                    _("Dispatched to %(team)s, due %(due)s, still “%(status)s”.")
                    % {
                        "team": request.team.name if request.team else "—",
                        "due": request.due_date.isoformat() if request.due_date else "—",
                        "status": _status_label(request.status),
                    },
                )
            marked += 1
    return marked
