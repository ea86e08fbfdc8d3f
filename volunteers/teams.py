"""Volunteer teams (志愿服务队) and their members: the services that write them and the
selectors that read them.

Who may do what:

- a manager or coordinator with ``MANAGE_TEAMS`` on the team's unit creates and edits
  teams there, adds members directly, removes them, and decides join requests;
- the team's leader (the login account of ``team.leader``) decides join requests too;
- an active volunteer asks to join an active team of a unit on the path from the root to
  their home unit (the county's, the town's, the village's), and leaves a team.

Memberships are never deleted: leaving sets ``left`` and ``left_at``; a declined request
stays ``declined``. A unit's public page lists its teams with their member counts, so
every write that changes them bumps the ``VOLUNTEERS`` page-cache version on commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.cache import VOLUNTEERS, bump_on_commit
from portal.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from portal.errors import field_error as _fail
from portal.validators import TEXT
from practice.choices import AuditAction
from practice.models import Category, Unit, User
from practice.permissions import Action, can, require, scope_q
from practice.services import record_audit

from .choices import MembershipStatus, TeamRole, VolunteerStatus
from .models import Team, TeamMembership, Volunteer
from .selectors import volunteer_of

__all__ = [
    "OPEN_STATUSES",
    "is_team_leader",
    "may_decide_requests",
    "member_add",
    "member_remove",
    "membership_accept",
    "membership_decline",
    "membership_leave",
    "membership_request",
    "memberships_of",
    "public_teams_of",
    "team_create",
    "team_for_page",
    "team_members",
    "team_requests",
    "team_update",
    "teams_in_scope",
    "teams_open_to",
    "teams_visible_to",
    "with_member_count",
]

OPEN_STATUSES = (MembershipStatus.REQUESTED, MembershipStatus.ACTIVE)
# Teams nest shallowly (a corps, its platform teams); a longer chain is a data error.
MAX_TEAM_DEPTH = 20


# --- selectors ------------------------------------------------------------------------------


def _member_count() -> Coalesce:
    """Active members of the row's team: a correlated count, no GROUP BY over the list."""
    counts = (
        TeamMembership.objects.filter(team=OuterRef("pk"), status=MembershipStatus.ACTIVE)
        .order_by()
        .values("team")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def with_member_count(teams: QuerySet[Team]) -> QuerySet[Team]:
    return teams.annotate(member_count=_member_count())


def _listed(teams: QuerySet[Team]) -> QuerySet[Team]:
    return with_member_count(teams.select_related("unit", "category", "leader", "parent")).order_by(
        "unit__tree_id", "unit__lft", "name", "pk"
    )


def teams_in_scope(user: Any) -> QuerySet[Team]:
    """Teams of units in the user's staff view, with ``member_count`` (one query)."""
    return _listed(Team.objects.filter(scope_q(user, Action.VIEW, prefix="unit__")))


def _membership_of(user: Any) -> Exists:
    return Exists(
        TeamMembership.objects.filter(
            team=OuterRef("pk"), volunteer__user=user, status=MembershipStatus.ACTIVE
        )
    )


def teams_visible_to(user: Any) -> QuerySet[Team]:
    """What the API shows: staff see the teams in their scope, a volunteer the teams they
    belong to (as member or leader)."""
    if user is None or not user.is_authenticated:
        return Team.objects.none()
    return _listed(
        Team.objects.filter(scope_q(user, Action.VIEW, prefix="unit__") | Q(_membership_of(user)))
    )


def team_for_page(user: Any, pk: int) -> Team:
    """The team page: staff with the team's unit in view, or the team's leader; else 404."""
    team = (
        with_member_count(Team.objects.select_related("unit", "category", "leader", "parent"))
        .filter(Q(scope_q(user, Action.VIEW, prefix="unit__")) | Q(leader__user=user), pk=pk)
        .first()
    )
    if team is None:
        raise NotFound()
    return team


# A unit's public page lists at most this many of its teams.
PUBLIC_TEAMS_SHOWN = 100


def public_teams_of(unit: Unit, *, limit: int = PUBLIC_TEAMS_SHOWN) -> list[Team]:
    """The active teams a unit owns (the first ``limit`` by name), with member counts, for
    its public page (one query)."""
    return list(
        with_member_count(
            Team.objects.filter(unit=unit, is_active=True).select_related("category")
        ).order_by("name", "pk")[:limit]
    )


def teams_open_to(volunteer: Volunteer) -> QuerySet[Team]:
    """Active teams ``volunteer`` may ask to join: those of the units on the path from the
    root down to their home unit, less those they are in or asking to join."""
    home = volunteer.unit
    return with_member_count(
        Team.objects.filter(
            is_active=True,
            unit__is_active=True,
            unit__tree_id=home.tree_id,
            unit__lft__lte=home.lft,
            unit__rght__gte=home.rght,
        )
        .exclude(
            Exists(
                TeamMembership.objects.filter(
                    team=OuterRef("pk"), volunteer=volunteer, status__in=OPEN_STATUSES
                )
            )
        )
        .select_related("unit", "category")
    ).order_by("unit__lft", "name", "pk")


def memberships_of(volunteer: Volunteer) -> QuerySet[TeamMembership]:
    """The volunteer's memberships, open ones first (asked, member), then their history."""
    open_first = Case(
        When(status=MembershipStatus.REQUESTED, then=Value(0)),
        When(status=MembershipStatus.ACTIVE, then=Value(1)),
        default=Value(2),
    )
    return (
        TeamMembership.objects.filter(volunteer=volunteer)
        .select_related("team", "team__unit", "team__category")
        .order_by(open_first, "-requested_at", "-pk")
    )


def team_members(team: Team) -> QuerySet[TeamMembership]:
    """Active members, the leader first (one query)."""
    return (
        TeamMembership.objects.filter(team=team, status=MembershipStatus.ACTIVE)
        .select_related("volunteer")
        .order_by("-role", "volunteer__name", "pk")
    )


def team_requests(team: Team) -> QuerySet[TeamMembership]:
    """Open requests to join, oldest first (one query)."""
    return (
        TeamMembership.objects.filter(team=team, status=MembershipStatus.REQUESTED)
        .select_related("volunteer")
        .order_by("requested_at", "pk")
    )


def is_team_leader(user: Any, team: Team) -> bool:
    """Is ``user`` the login account of the team's leader? (No query beyond the leader.)"""
    if user is None or not user.is_authenticated or team.leader_id is None:
        return False
    leader = team.leader
    return leader is not None and leader.user_id == user.pk


def may_decide_requests(user: Any, team: Team) -> bool:
    return is_team_leader(user, team) or can(user, Action.MANAGE_TEAMS, team.unit)


# --- services -------------------------------------------------------------------------------


def _written(*, actor: Any, action: str, team: Team, changes: Mapping[str, Any]) -> None:
    record_audit(
        actor=actor,
        action=action,
        unit=team.unit,
        object_repr=team.name,
        changes=dict(changes),
    )


def _check_fields(team: Team) -> None:
    """The model's field rules (names: NAME text rules, lengths), with per-field messages."""
    try:
        team.full_clean(
            exclude=["unit", "category", "parent", "leader"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        raise ValidationFailed(
            detail={field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
        ) from exc


def _check_name_free(team: Team) -> None:
    taken = Team.objects.filter(unit_id=team.unit_id, name=team.name).exclude(pk=team.pk)
    if taken.exists():
        raise _fail(
            "name", _("This unit already has a team with this name."), code="duplicate_team"
        )


def _check_category(category: Category | None) -> None:
    if category is not None and not category.is_active:
        raise _fail("category", _("This platform is no longer in use."))


def _on_path(unit: Unit, below: Unit) -> bool:
    """Is ``unit`` ``below`` itself or one of its ancestors?"""
    return unit.tree_id == below.tree_id and unit.lft <= below.lft and unit.rght >= below.rght


def _check_parent(actor: Any, team: Team, parent: Team | None) -> None:
    if parent is None:
        return
    if not can(actor, Action.VIEW, parent.unit):
        raise _fail("parent", _("There is no such team here."))
    if not _on_path(parent.unit, team.unit):
        raise _fail(
            "parent",
            _("A team can only be part of a team of its own unit or of a unit above it."),
        )
    node: Team | None = parent
    for _step in range(MAX_TEAM_DEPTH):
        if node is None:
            return
        if team.pk is not None and node.pk == team.pk:
            raise _fail("parent", _("A team cannot be part of itself or of one of its sub-teams."))
        node = node.parent
    raise _fail("parent", _("The teams above this one are nested too deeply."))


def _check_leader(actor: Any, team: Team, leader: Volunteer | None) -> None:
    if leader is None:
        return
    if not can(actor, Action.VIEW, leader.unit):
        raise _fail("leader", _("There is no such volunteer here."))
    if leader.status != VolunteerStatus.ACTIVE:
        raise _fail("leader", _("Only an active volunteer can lead a team."))
    if not _on_path(team.unit, leader.unit):
        raise _fail(
            "leader",
            _("The leader's home unit must be the team's unit or a unit below it."),
        )


def _open_membership(team: Team, volunteer: Volunteer) -> TeamMembership | None:
    return (
        TeamMembership.objects.select_for_update()
        .filter(team=team, volunteer=volunteer, status__in=OPEN_STATUSES)
        .first()
    )


def _make_leader(actor: Any, team: Team, leader: Volunteer) -> None:
    """``leader`` becomes an active member with the leader's role (accepting their request
    or creating the membership)."""
    membership = _open_membership(team, leader)
    now = timezone.now()
    if membership is None:
        TeamMembership.objects.create(
            team=team,
            volunteer=leader,
            role=TeamRole.LEADER,
            status=MembershipStatus.ACTIVE,
            joined_at=now,
            decided_by=actor,
        )
        return
    membership.role = TeamRole.LEADER
    fields = ["role"]
    if membership.status != MembershipStatus.ACTIVE:
        membership.status = MembershipStatus.ACTIVE
        membership.joined_at = now
        membership.decided_by = actor
        fields += ["status", "joined_at", "decided_by"]
    membership.save(update_fields=fields)


def _repr(value: Any) -> Any:
    if isinstance(value, Category):
        return value.code
    if isinstance(value, Volunteer | Team):
        return str(value)
    return value


def team_create(
    *,
    actor: User,
    unit: Unit,
    name: str,
    category: Category | None = None,
    parent: Team | None = None,
    leader: Volunteer | None = None,
    description: str = "",
) -> Team:
    """A new team of ``unit``; its leader (if given) becomes its first member."""
    with transaction.atomic():
        require(actor, Action.MANAGE_TEAMS, unit)
        team = Team(
            unit=unit,
            name=name,
            category=category,
            parent=parent,
            leader=leader,
            description=description,
        )
        _check_fields(team)
        _check_name_free(team)
        _check_category(category)
        _check_parent(actor, team, parent)
        _check_leader(actor, team, leader)
        try:
            with transaction.atomic():
                team.save()
        except IntegrityError as exc:  # lost a race for the name
            raise _fail(
                "name", _("This unit already has a team with this name."), code="duplicate_team"
            ) from exc
        if leader is not None:
            _make_leader(actor, team, leader)
        _written(
            actor=actor,
            action=AuditAction.TEAM_CREATED,
            team=team,
            changes={
                key: _repr(value)
                for key, value in {
                    "name": team.name,
                    "category": category,
                    "parent": parent,
                    "leader": leader,
                }.items()
                if value is not None
            },
        )
        bump_on_commit(VOLUNTEERS)
    return team


TEAM_UPDATE_FIELDS = ("name", "category", "parent", "leader", "description", "is_active")


def team_update(*, actor: User, team: Team, data: Mapping[str, Any]) -> Team:
    """Change a team's ``TEAM_UPDATE_FIELDS``. A new leader becomes a member with the
    leader's role; the former leader stays a member."""
    unknown = set(data) - set(TEAM_UPDATE_FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise _fail(field, _("This field cannot be changed."))
    with transaction.atomic():
        locked = Team.objects.select_for_update(of=("self",)).select_related("unit", "leader")
        team = locked.get(pk=team.pk)
        require(actor, Action.MANAGE_TEAMS, team.unit)
        old = {field: getattr(team, field) for field in TEAM_UPDATE_FIELDS}
        for field, value in data.items():
            setattr(team, field, value)
        _check_fields(team)
        changed = {
            f: (old[f], getattr(team, f)) for f in TEAM_UPDATE_FIELDS if old[f] != getattr(team, f)
        }
        if not changed:
            return team
        if "name" in changed:
            _check_name_free(team)
        if "category" in changed:
            _check_category(team.category)
        if "parent" in changed:
            _check_parent(actor, team, team.parent)
        if "leader" in changed:
            _check_leader(actor, team, team.leader)
        try:
            with transaction.atomic():
                team.save()
        except IntegrityError as exc:
            raise _fail(
                "name", _("This unit already has a team with this name."), code="duplicate_team"
            ) from exc
        if "leader" in changed:
            former, new = changed["leader"]
            if former is not None:
                TeamMembership.objects.filter(
                    team=team, volunteer=former, status__in=OPEN_STATUSES
                ).update(role=TeamRole.MEMBER)
            if new is not None:
                _make_leader(actor, team, new)
        _written(
            actor=actor,
            action=AuditAction.TEAM_CHANGED,
            team=team,
            changes={f: [_repr(a), _repr(b)] for f, (a, b) in changed.items()},
        )
        bump_on_commit(VOLUNTEERS)
    return team


def _active_volunteer_of(user: Any) -> Volunteer:
    volunteer = volunteer_of(user)
    if volunteer is None:
        raise NotFound()
    if volunteer.status != VolunteerStatus.ACTIVE:
        raise PermissionDenied(_("Only active volunteers can join teams."))
    return volunteer


def _require_team_active(team: Team) -> None:
    if not team.is_active:
        raise Conflict(_("This team is no longer active."), code="team_inactive")


def membership_request(*, volunteer_user: User, team: Team) -> TeamMembership:
    """The volunteer of ``volunteer_user`` asks to join ``team`` (status ``requested``)."""
    volunteer = _active_volunteer_of(volunteer_user)
    with transaction.atomic():
        team = Team.objects.select_related("unit").get(pk=team.pk)
        _require_team_active(team)
        if not (team.unit.is_active and _on_path(team.unit, volunteer.unit)):
            raise PermissionDenied(
                _("You can join the teams of your home unit and of the units above it.")
            )
        if _open_membership(team, volunteer) is not None:
            raise _already_in()
        try:
            with transaction.atomic():
                membership = TeamMembership.objects.create(
                    team=team, volunteer=volunteer, status=MembershipStatus.REQUESTED
                )
        except IntegrityError as exc:  # the same request twice at once
            raise _already_in() from exc
        _written(
            actor=volunteer_user,
            action=AuditAction.TEAM_CHANGED,
            team=team,
            changes={"join_request": str(volunteer)},
        )
    return membership


def _already_in() -> Conflict:
    return Conflict(
        _("This volunteer is already in this team or has asked to join it."),
        code="already_member",
    )


def _locked_request(actor: Any, membership: TeamMembership) -> TeamMembership:
    """Re-read ``membership`` under its row lock and check the actor may decide it."""
    locked = (
        TeamMembership.objects.select_for_update(of=("self",))
        .select_related("team", "team__unit", "team__leader", "volunteer")
        .get(pk=membership.pk)
    )
    team = locked.team
    if not may_decide_requests(actor, team):
        if not can(actor, Action.VIEW, team.unit) and not _is_member(actor, team):
            raise NotFound()
        raise PermissionDenied(_("Only the team's leader or its unit's managers decide this."))
    if locked.status != MembershipStatus.REQUESTED:
        raise InvalidTransition(_("This request has already been decided or withdrawn."))
    return locked


def _is_member(user: Any, team: Team) -> bool:
    return TeamMembership.objects.filter(
        team=team, volunteer__user=user, status=MembershipStatus.ACTIVE
    ).exists()


def membership_accept(*, actor: User, membership: TeamMembership) -> TeamMembership:
    with transaction.atomic():
        membership = _locked_request(actor, membership)
        _require_team_active(membership.team)
        if membership.volunteer.status != VolunteerStatus.ACTIVE:
            raise Conflict(
                _("This volunteer is not active; the request cannot be accepted."),
                code="volunteer_inactive",
            )
        membership.status = MembershipStatus.ACTIVE
        membership.joined_at = timezone.now()
        membership.decided_by = actor
        membership.save(update_fields=["status", "joined_at", "decided_by"])
        _written(
            actor=actor,
            action=AuditAction.TEAM_MEMBER_ADDED,
            team=membership.team,
            changes={"volunteer": str(membership.volunteer)},
        )
        bump_on_commit(VOLUNTEERS)
    return membership


def membership_decline(
    *, actor: User, membership: TeamMembership, reason: str = ""
) -> TeamMembership:
    reason = TEXT.normalize(reason or "")
    if len(reason) > 500:
        raise _fail("reason", _("At most 500 characters."))
    try:
        TEXT.validator(reason)
    except ValidationError as exc:
        raise _fail("reason", " ".join(exc.messages)) from exc
    with transaction.atomic():
        membership = _locked_request(actor, membership)
        membership.status = MembershipStatus.DECLINED
        membership.decided_by = actor
        membership.save(update_fields=["status", "decided_by"])
        changes: dict[str, Any] = {"join_declined": str(membership.volunteer)}
        if reason:
            changes["reason"] = reason
        _written(
            actor=actor, action=AuditAction.TEAM_CHANGED, team=membership.team, changes=changes
        )
    return membership


def member_add(*, actor: User, team: Team, volunteer: Volunteer) -> TeamMembership:
    """Staff add ``volunteer`` to ``team`` directly (an open request is accepted)."""
    with transaction.atomic():
        team = Team.objects.select_related("unit").get(pk=team.pk)
        require(actor, Action.MANAGE_TEAMS, team.unit)
        if not can(actor, Action.VIEW, volunteer.unit):
            raise NotFound(_("There is no such volunteer here."))
        _require_team_active(team)
        if volunteer.status != VolunteerStatus.ACTIVE:
            raise _fail("volunteer", _("Only active volunteers can be added to a team."))
        membership = _open_membership(team, volunteer)
        now = timezone.now()
        if membership is not None:
            if membership.status == MembershipStatus.ACTIVE:
                raise _already_in()
            membership.status = MembershipStatus.ACTIVE
            membership.joined_at = now
            membership.decided_by = actor
            membership.save(update_fields=["status", "joined_at", "decided_by"])
        else:
            try:
                with transaction.atomic():
                    membership = TeamMembership.objects.create(
                        team=team,
                        volunteer=volunteer,
                        status=MembershipStatus.ACTIVE,
                        joined_at=now,
                        decided_by=actor,
                    )
            except IntegrityError as exc:
                raise _already_in() from exc
        _written(
            actor=actor,
            action=AuditAction.TEAM_MEMBER_ADDED,
            team=team,
            changes={"volunteer": str(volunteer)},
        )
        bump_on_commit(VOLUNTEERS)
    return membership


def _end_membership(
    *, actor: Any, team: Team, volunteer: Volunteer, missing: str
) -> TeamMembership:
    membership = _open_membership(team, volunteer)
    if membership is None or (membership.status != MembershipStatus.ACTIVE and missing == "member"):
        raise NotFound(_("This volunteer is not a member of this team."))
    if team.leader_id == volunteer.pk and membership.status == MembershipStatus.ACTIVE:
        raise _fail(
            "volunteer",
            _("The team's leader cannot leave it; choose another leader first."),
            code="is_leader",
        )
    was_active = membership.status == MembershipStatus.ACTIVE
    membership.status = MembershipStatus.LEFT
    membership.left_at = timezone.now()
    fields = ["status", "left_at"]
    if actor is not None and actor.pk != getattr(volunteer, "user_id", None):
        membership.decided_by = actor
        fields.append("decided_by")
    membership.save(update_fields=fields)
    if was_active:
        _written(
            actor=actor,
            action=AuditAction.TEAM_MEMBER_REMOVED,
            team=team,
            changes={"volunteer": str(volunteer)},
        )
        bump_on_commit(VOLUNTEERS)
    else:
        _written(
            actor=actor,
            action=AuditAction.TEAM_CHANGED,
            team=team,
            changes={"join_withdrawn": str(volunteer)},
        )
    return membership


def member_remove(*, actor: User, team: Team, volunteer: Volunteer) -> TeamMembership:
    """Staff take ``volunteer`` off ``team`` (status ``left``; the history stays)."""
    with transaction.atomic():
        team = Team.objects.select_related("unit").get(pk=team.pk)
        require(actor, Action.MANAGE_TEAMS, team.unit)
        return _end_membership(actor=actor, team=team, volunteer=volunteer, missing="member")


def membership_leave(*, volunteer_user: User, team: Team) -> TeamMembership:
    """The volunteer leaves ``team``, or withdraws their request to join it."""
    volunteer = volunteer_of(volunteer_user)
    if volunteer is None:
        raise NotFound()
    with transaction.atomic():
        team = Team.objects.select_related("unit").get(pk=team.pk)
        return _end_membership(actor=volunteer_user, team=team, volunteer=volunteer, missing="open")
