"""The volunteers' pages (phone first): the tasks of my teams and my own, claim, give back,
report delivered. Thin: ``orders.selectors`` read, ``orders.services`` write and decide.

Who sees what: a request is visible to staff in its unit's view and to the volunteers of
the team it was dispatched to (``selectors.request_for_staff``); a dispatched request is
also an open call to the active volunteers of its county, who may try to claim it and are
told that only the team's members can (403). Anything else is 404. Giving back and
delivering are for the claimer and the team's leader (``services.may_act_as_team``): 403
for the others who can see the request.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.errors import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from portal.http import AuthenticatedRequest
from volunteers.choices import MembershipStatus, TeamRole, VolunteerStatus
from volunteers.models import Team, TeamMembership, Volunteer
from volunteers.selectors import volunteer_of

from . import selectors, services
from .choices import RequestStatus
from .forms_volunteer import DeclineForm, DeliverForm
from .models import ServiceRequest

__all__ = ["request_claim", "request_decline", "request_deliver", "task_list"]

# Bounded lists (the page costs the same queries however many there are).
OPEN_SHOWN = 50
CLAIMED_SHOWN = 50
DONE_SHOWN = 20


def _leader_of(volunteer: Volunteer) -> set[int]:
    """The teams ``volunteer`` leads (one query)."""
    led = Team.objects.filter(
        Q(leader=volunteer)
        | Q(
            memberships__volunteer=volunteer,
            memberships__status=MembershipStatus.ACTIVE,
            memberships__role=TeamRole.LEADER,
        )
    )
    return set(led.values_list("pk", flat=True))


@login_required
def task_list(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = volunteer_of(request.user)
    if volunteer is None or volunteer.status != VolunteerStatus.ACTIVE:
        # Like "My volunteer service": a page saying who it is for, not an error.
        return render(request, "orders/volunteer/task_list.html", {"volunteer": volunteer})
    open_tasks = list(selectors.team_tasks(volunteer)[: OPEN_SHOWN + 1])
    mine = selectors.requests_of_volunteer(volunteer)
    claimed = list(mine.filter(status=RequestStatus.CLAIMED)[: CLAIMED_SHOWN + 1])
    done = list(mine.exclude(status=RequestStatus.CLAIMED)[:DONE_SHOWN])
    leads = _leader_of(volunteer) if open_tasks else set()
    return render(
        request,
        "orders/volunteer/task_list.html",
        {
            "volunteer": volunteer,
            "open_tasks": open_tasks[:OPEN_SHOWN],
            "open_more": len(open_tasks) > OPEN_SHOWN,
            "claimed": claimed[:CLAIMED_SHOWN],
            "claimed_more": len(claimed) > CLAIMED_SHOWN,
            "done": done,
            "leads": leads,
        },
    )


def _visible(request: AuthenticatedRequest, pk: int) -> ServiceRequest:
    """The request if the user may see it (staff or its team's volunteers), else 404."""
    found = selectors.request_for_staff(request.user, pk)
    if found is None:
        raise Http404
    return found


def _claimable(request: AuthenticatedRequest, pk: int) -> ServiceRequest:
    """What a claim may name: a request the user sees, or a dispatched one of the county
    of an active volunteer (whom the service then refuses unless they are in its team)."""
    found = selectors.request_for_staff(request.user, pk)
    if found is not None:
        return found
    volunteer = volunteer_of(request.user)
    if volunteer is not None and volunteer.status == VolunteerStatus.ACTIVE:
        dispatched = (
            ServiceRequest.objects.select_related("unit", "team")
            .filter(pk=pk, status=RequestStatus.DISPATCHED, unit__tree_id=volunteer.unit.tree_id)
            .first()
        )
        if dispatched is not None:
            return dispatched
    raise Http404


def _team_side(request: AuthenticatedRequest, pk: int) -> ServiceRequest:
    found = _visible(request, pk)
    if not services.may_act_as_team(request.user, found):
        raise PermissionDenied(
            _("Only the volunteer who claimed it or the team's leader can do this.")
        )
    return found


@login_required
@require_POST
def request_claim(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    found = _claimable(request, pk)
    try:
        services.request_claim(actor=request.user, request=found)
    except (NotFound, PermissionDenied):
        raise
    except ApplicationError as exc:  # lost the race, or no longer dispatched (409)
        messages.error(request, str(exc.message))
        return redirect("volunteer-tasks")
    messages.success(
        request,
        _("You claimed “%(title)s”. Contact the resident and deliver it.") % {"title": found.title},
    )
    return redirect("request-detail", pk=found.pk)


@login_required
def request_decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    found = _team_side(request, pk)
    may_decline = found.status in (RequestStatus.DISPATCHED, RequestStatus.CLAIMED)
    form = DeclineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_decline(
                actor=request.user, request=found, reason=form.cleaned_data["reason"]
            )
        except (NotFound, PermissionDenied):
            raise
        except ValidationFailed as exc:
            form.add_error("reason" if "reason" in exc.detail else None, str(exc.message))
        except ApplicationError as exc:
            form.add_error(None, str(exc.message))
            may_decline = False
        else:
            messages.success(
                request,
                _("You gave “%(title)s” back to the office.") % {"title": found.title},
            )
            return redirect("volunteer-tasks")
    return render(
        request,
        "orders/volunteer/decline.html",
        {"req": found, "form": form, "may_decline": may_decline},
    )


def _members(found: ServiceRequest) -> list[Volunteer]:
    """The team's active members, its leader first (one query)."""
    memberships = (
        TeamMembership.objects.filter(team=found.team, status=MembershipStatus.ACTIVE)
        .select_related("volunteer")
        .order_by("volunteer__name", "pk")
    )
    leader_first = sorted(memberships, key=lambda m: m.role != TeamRole.LEADER)
    return [m.volunteer for m in leader_first]


@login_required
def request_deliver(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    found = _team_side(request, pk)
    if found.status in (RequestStatus.DELIVERED, RequestStatus.CLOSED):
        # Where the report leads: its hours wait for the office.
        return render(request, "orders/volunteer/delivered.html", {"req": found})
    data = request.POST if request.method == "POST" else None
    form: DeliverForm | None = None
    if found.status == RequestStatus.CLAIMED:
        members = _members(found) if found.team_id else []
        form = DeliverForm(data, members=members, claimer_id=found.claimed_by_id)
    if form is not None and data is not None and form.is_valid():
        try:
            services.request_deliver(
                actor=request.user,
                request=found,
                summary=form.cleaned_data["summary"],
                beneficiaries=form.cleaned_data["beneficiaries"],
                participants=form.participants(),
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
        except (NotFound, PermissionDenied):
            raise
        except ValidationFailed as exc:
            form.show_errors(exc)
        except ApplicationError as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("Thank you! The service is reported as delivered."))
            return redirect("request-deliver", pk=found.pk)
    return render(
        request,
        "orders/volunteer/deliver.html",
        {"req": found, "form": form},
    )
