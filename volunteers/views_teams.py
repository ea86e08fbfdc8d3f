"""Pages of volunteer teams: the staff's list, form and team page (also the leader's), and
the volunteer's own "My teams" (/me/teams/). Thin: ``volunteers.teams`` reads and writes."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from portal.fields import PlainTextFormField
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page
from portal.validators import MULTILINE, NAME, TEXT
from practice import selectors as practice_selectors
from practice.models import Category, Unit
from practice.permissions import Action, can, has_any_role, scope_q

from . import teams
from .api.teams import TeamFilterSet
from .choices import MembershipStatus, VolunteerStatus
from .models import Team, TeamMembership, Volunteer
from .selectors import volunteer_of

TEAMS_PER_PAGE = 50
MEMBERS_PER_PAGE = 50
REQUESTS_SHOWN = 50
OPEN_TEAMS_SHOWN = 100


class _UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{'— ' * obj.level}{obj.name}"


class TeamForm(forms.Form):
    unit = _UnitChoiceField(label=gettext_lazy("unit"), queryset=Unit.objects.none())
    name = PlainTextFormField(label=gettext_lazy("name"), max_length=100, rules=NAME)
    category = forms.ModelChoiceField(
        label=gettext_lazy("platform"), queryset=Category.objects.none(), required=False
    )
    parent = forms.ModelChoiceField(
        label=gettext_lazy("part of"), queryset=Team.objects.none(), required=False
    )
    leader = forms.CharField(
        label=gettext_lazy("leader's volunteer number"),
        max_length=20,
        required=False,
        help_text=gettext_lazy("An active volunteer; they become a member of the team."),
    )
    description = PlainTextFormField(
        label=gettext_lazy("description"),
        max_length=2000,
        required=False,
        rules=MULTILINE,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    is_active = forms.BooleanField(label=gettext_lazy("active"), required=False, initial=True)

    def __init__(self, *args: Any, user: Any, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.team = team
        if team is None:
            unit_field = cast(forms.ModelChoiceField, self.fields["unit"])
            unit_field.queryset = (
                Unit.objects.for_user(user, Action.MANAGE_TEAMS)
                .filter(is_active=True)
                .order_by("tree_id", "lft")
                .only("pk", "name", "level")
            )
            del self.fields["is_active"]
        else:
            del self.fields["unit"]
        cast(
            forms.ModelChoiceField, self.fields["category"]
        ).queryset = practice_selectors.categories()
        parents = Team.objects.filter(scope_q(user, Action.VIEW, prefix="unit__")).order_by("name")
        if team is not None:
            parents = parents.exclude(pk=team.pk)
        cast(forms.ModelChoiceField, self.fields["parent"]).queryset = parents

    def clean_leader(self) -> Volunteer | None:
        number = TEXT.normalize(self.cleaned_data.get("leader") or "")
        if not number:
            return None
        volunteer = _volunteer_by_number(self.user, number)
        if volunteer is None:
            raise forms.ValidationError(_("There is no volunteer with this number here."))
        return volunteer


class MemberAddForm(forms.Form):
    number = forms.CharField(label=gettext_lazy("volunteer number"), max_length=20)


class DeclineForm(forms.Form):
    reason = PlainTextFormField(
        label=gettext_lazy("reason"), max_length=500, required=False, rules=TEXT
    )


def _volunteer_by_number(user: Any, number: str) -> Volunteer | None:
    return (
        Volunteer.objects.filter(scope_q(user, Action.VIEW, prefix="unit__"), number=number)
        .select_related("unit")
        .first()
    )


def _show_errors(form: forms.BaseForm, exc: ValidationFailed) -> None:
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _require_staff(request: AuthenticatedRequest) -> None:
    if not has_any_role(request.user):
        raise Http404


# --- staff pages ----------------------------------------------------------------------------


@login_required
def team_list(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    filterset = TeamFilterSet(request.GET, queryset=teams.teams_in_scope(request.user))
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset, TEAMS_PER_PAGE)
    return render(
        request,
        "volunteers/team_list.html",
        {
            "filterset": filterset,
            "page": page,
            "teams": page.object_list,
            "query": query_without_page(request),
            "unit_choices": practice_selectors.audit_unit_choices(request.user),
            "categories": practice_selectors.categories(),
            "may_create": can(request.user, Action.MANAGE_TEAMS, None)
            or Unit.objects.for_user(request.user, Action.MANAGE_TEAMS).exists(),
        },
    )


@login_required
def team_new(request: AuthenticatedRequest) -> HttpResponse:
    _require_staff(request)
    initial = {}
    if request.GET.get("unit", "").isdigit():
        initial["unit"] = request.GET["unit"]
    form = TeamForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            team = teams.team_create(
                actor=request.user,
                unit=data["unit"],
                name=data["name"],
                category=data["category"],
                parent=data["parent"],
                leader=data["leader"],
                description=data["description"],
            )
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("“%(name)s” was created.") % {"name": team.name})
            return redirect("team-detail", pk=team.pk)
    return render(request, "volunteers/team_form.html", {"form": form, "team": None})


@login_required
def team_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    team = teams.team_for_page(request.user, pk)
    may_manage = can(request.user, Action.MANAGE_TEAMS, team.unit)
    page = paginate(request, teams.team_members(team), MEMBERS_PER_PAGE)
    requests = list(teams.team_requests(team)[: REQUESTS_SHOWN + 1])
    return render(
        request,
        "volunteers/team_detail.html",
        {
            "team": team,
            "page": page,
            "members": page.object_list,
            "query": query_without_page(request),
            "requests": requests[:REQUESTS_SHOWN],
            "more_requests": len(requests) > REQUESTS_SHOWN,
            "may_manage": may_manage,
            "may_decide": may_manage or teams.is_team_leader(request.user, team),
            "add_form": MemberAddForm() if may_manage else None,
        },
    )


@login_required
def team_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    team = _managed_team(request, pk)
    initial = {
        "name": team.name,
        "category": team.category_id,
        "parent": team.parent_id,
        "leader": team.leader.number if team.leader else "",
        "description": team.description,
        "is_active": team.is_active,
    }
    form = TeamForm(request.POST or None, user=request.user, team=team, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            teams.team_update(actor=request.user, team=team, data=form.cleaned_data)
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect("team-detail", pk=team.pk)
    return render(request, "volunteers/team_form.html", {"form": form, "team": team})


def _done(request: AuthenticatedRequest, action: Any, success: str, to: str) -> HttpResponse:
    """Run a write from a button; its refusal (400, 409) becomes a message on the page it
    came from. 403/404 answer as such (the error pages)."""
    try:
        action()
    except (NotFound, PermissionDenied):
        raise
    except ApplicationError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, success)
    return redirect(to)


def _managed_team(request: AuthenticatedRequest, pk: int) -> Team:
    """The team of the page, if the user manages its unit's teams (else 404 or 403)."""
    team = teams.team_for_page(request.user, pk)
    if not can(request.user, Action.MANAGE_TEAMS, team.unit):
        raise PermissionDenied(_("Your role does not allow this here."))
    return team


@login_required
@require_POST
def team_member_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    team = _managed_team(request, pk)
    form = MemberAddForm(request.POST)
    to = reverse("team-detail", args=[team.pk])
    volunteer = (
        _volunteer_by_number(request.user, TEXT.normalize(form.data.get("number", "")))
        if form.is_valid()
        else None
    )
    if volunteer is None:
        messages.error(request, _("There is no volunteer with this number here."))
        return redirect(to)
    return _done(
        request,
        lambda: teams.member_add(actor=request.user, team=team, volunteer=volunteer),
        _("%(name)s joined the team.") % {"name": volunteer.name},
        to,
    )


@login_required
@require_POST
def team_member_remove(request: AuthenticatedRequest, pk: int, volunteer: int) -> HttpResponse:
    team = _managed_team(request, pk)
    member = get_object_or_404(Volunteer, pk=volunteer)
    return _done(
        request,
        lambda: teams.member_remove(actor=request.user, team=team, volunteer=member),
        _("%(name)s was taken off the team.") % {"name": member.name},
        reverse("team-detail", args=[team.pk]),
    )


def _request(request: AuthenticatedRequest, pk: int, membership: int) -> TeamMembership:
    team = teams.team_for_page(request.user, pk)
    return get_object_or_404(TeamMembership.objects.filter(team=team), pk=membership)


@login_required
@require_POST
def team_request_accept(request: AuthenticatedRequest, pk: int, membership: int) -> HttpResponse:
    row = _request(request, pk, membership)
    return _done(
        request,
        lambda: teams.membership_accept(actor=request.user, membership=row),
        _("The request was accepted."),
        reverse("team-detail", args=[pk]),
    )


@login_required
@require_POST
def team_request_decline(request: AuthenticatedRequest, pk: int, membership: int) -> HttpResponse:
    row = _request(request, pk, membership)
    form = DeclineForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _done(
        request,
        lambda: teams.membership_decline(actor=request.user, membership=row, reason=reason),
        _("The request was declined."),
        reverse("team-detail", args=[pk]),
    )


# --- the volunteer's own pages --------------------------------------------------------------


def _own_volunteer(request: AuthenticatedRequest) -> Volunteer:
    volunteer = volunteer_of(request.user)
    if volunteer is None:
        raise Http404
    return volunteer


@login_required
def me_teams(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = _own_volunteer(request)
    memberships = list(
        teams.memberships_of(volunteer).filter(status__in=teams.OPEN_STATUSES)[:OPEN_TEAMS_SHOWN]
    )
    return render(
        request,
        "volunteers/me_teams.html",
        {
            "volunteer": volunteer,
            "memberships": [m for m in memberships if m.status == MembershipStatus.ACTIVE],
            "pending": [m for m in memberships if m.status == MembershipStatus.REQUESTED],
            "open_teams": list(teams.teams_open_to(volunteer)[:OPEN_TEAMS_SHOWN]),
            "may_join": volunteer.status == VolunteerStatus.ACTIVE,
        },
    )


@login_required
@require_POST
def me_team_join(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _own_volunteer(request)
    team = get_object_or_404(Team.objects.select_related("unit"), pk=pk)
    return _done(
        request,
        lambda: teams.membership_request(volunteer_user=request.user, team=team),
        _("You asked to join “%(name)s”.") % {"name": team.name},
        reverse("volunteer-me-teams"),
    )


@login_required
@require_POST
def me_team_leave(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    _own_volunteer(request)
    team = get_object_or_404(Team.objects.select_related("unit"), pk=pk)
    return _done(
        request,
        lambda: teams.membership_leave(volunteer_user=request.user, team=team),
        _("You left “%(name)s”.") % {"name": team.name},
        reverse("volunteer-me-teams"),
    )
