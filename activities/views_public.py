"""What residents see of activities: the news feed of approved ones (公示), the calendar of
planned ones (by town, or near where the phone is) and an activity's page. GET pages that
work without JavaScript, cached for anonymous visitors (``portal.cache``: the units'
``NETWORK`` and the ``ACTIVITIES`` namespace every activity write bumps). A fixed number
of queries each, whatever the number of activities (``activities.public``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.cache import ACTIVITIES, NETWORK, VOLUNTEERS, cache_public_page
from portal.fields import IdFormField
from portal.pagination import paginate, query_without_page
from practice import selectors as practice_selectors
from practice.models import Unit
from practice.views_find import FindForm

from . import public
from .attendance import signup_state
from .choices import ActivityStatus
from .models import Activity

__all__ = ["activity_calendar", "activity_feed", "activity_public"]

FEED_PER_PAGE = 20
CALENDAR_PER_PAGE = 30
# Part of the sign-up (activities.attendance): included on a planned activity's page.
SIGNUP_TEMPLATE = "activities/_signup.html"
# "Near me" on the calendar: activities within this distance (a walk or a short ride; the
# station finder reaches 50 km, a county's width, to find at least one station).
NEAR_KM = 10.0


class PublicFilterForm(FindForm):
    """The feed's and the calendar's filters: ``within`` (any unit: its subtree), or the
    county and town selects; the calendar's ``lat``/``lon`` (“near me”, rounded)."""

    within = IdFormField(required=False)


def _choice(units: list[Unit], pk: int | None) -> Unit | None:
    return next((u for u in units if u.pk == pk), None)


def _place(request: HttpRequest) -> dict[str, Any]:
    """The filter form and where it points: the county and town selects' units and
    ``focus``, the unit whose subtree is shown (None: everywhere). An unknown or closed
    ``within`` is a 404. Three queries at most."""
    form = PublicFilterForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    counties = practice_selectors.counties()
    county = counties[0] if len(counties) == 1 else _choice(counties, data.get("county"))
    within = None
    if data.get("within"):
        within = Unit.objects.filter(pk=data["within"], is_active=True).first()
        if within is None:
            raise Http404("No such unit.")
        # A county of the selects, given as ``within``, opens its towns.
        county = _choice(counties, within.pk) or county
    towns = practice_selectors.towns_of(county) if county is not None else []
    town = _choice(towns, within.pk if within else data.get("town"))
    if within is None:
        within = town or (county if len(counties) > 1 else None)
    return {
        "form": form,
        "valid": valid,
        "counties": counties,
        "county": county,
        "towns": towns,
        "town": town,
        "focus": within,
        # A unit other than the selects' county and towns (e.g. from a station's page).
        "other_focus": within is not None and within not in (town, county),
    }


@cache_public_page(NETWORK, ACTIVITIES)
@require_GET
def activity_feed(request: HttpRequest) -> HttpResponse:
    """``/activities/``: approved activities, newest first (``?within=`` a unit's subtree,
    or ``?county=&town=``), with their figures and first photo; paged."""
    context = _place(request)
    page = paginate(request, public.published(context["focus"]), FEED_PER_PAGE)
    context.update(
        page=page,
        activities=public.with_photo_urls(page.object_list),
        query=query_without_page(request),
    )
    return render(
        request,
        "activities/public/feed.html",
        context,
        status=200 if context["valid"] else 400,
    )


@cache_public_page(NETWORK, ACTIVITIES)
@require_GET
def activity_calendar(request: HttpRequest) -> HttpResponse:
    """``/activities/calendar/``: planned activities not yet over, soonest first, grouped
    by day; by town (``?town=``, ``?within=``) or near the visitor (``?lat=&lon=``, the
    “near me” button: within ``NEAR_KM``, each with its distance); paged."""
    context = _place(request)
    data = context["form"].cleaned_data if context["valid"] else {}
    near = (data["lat"], data["lon"]) if data.get("lat") is not None else None
    activities = public.upcoming(context["focus"], near=near, radius_km=NEAR_KM)
    page = paginate(request, activities, CALENDAR_PER_PAGE)
    rows: list[Any] = public.with_photo_urls(page.object_list)
    if near is not None:
        rows = public.with_distance(rows, near, radius_km=NEAR_KM)
    for activity in rows:
        activity.day = timezone.localtime(activity.start).date()
    context.update(
        page=page,
        activities=rows,
        near=near,
        near_radius_km=int(NEAR_KM),
        query=query_without_page(request),
    )
    return render(
        request,
        "activities/public/calendar.html",
        context,
        status=200 if context["valid"] else 400,
    )


def _signup_template() -> str | None:
    """The sign-up include, once it exists (made by the attendance part)."""
    try:
        get_template(SIGNUP_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return SIGNUP_TEMPLATE


def _place_of(activity: Activity) -> dict[str, Any] | None:
    """Where to go (for the phone's map app): the activity's coordinates, else its unit's."""
    unit = activity.unit
    if activity.latitude is not None and activity.longitude is not None:
        lat, lon = activity.latitude, activity.longitude
    elif unit.latitude is not None and unit.longitude is not None:
        lat, lon = unit.latitude, unit.longitude
    else:
        return None
    return {"latitude": lat, "longitude": lon, "name": activity.location or unit.name}


# The organizing team's name is the volunteers' data.
@cache_public_page(NETWORK, VOLUNTEERS, ACTIVITIES)
@require_GET
def activity_public(request: HttpRequest, pk: int) -> HttpResponse:
    """``/activities/<pk>/``: an approved activity with its photos and figures, or a
    planned one with its place, time and sign-up; any other status is a 404 for
    everyone (staff see those on their own pages)."""
    activity = public.public_activity(pk)
    planned = activity.status == ActivityStatus.PLANNED
    return render(
        request,
        "activities/public/detail.html",
        {
            "activity": activity,
            "unit": activity.unit,
            "ancestors": practice_selectors.unit_ancestors(activity.unit),
            "planned": planned,
            "over": activity.end <= timezone.now(),
            "signup_template": _signup_template() if planned else None,
            # The sign-up box's state (for a logged-in volunteer, their own sign-up).
            **(signup_state(activity, request.user) if planned else {}),
            "place": _place_of(activity) if planned else None,
        },
    )
