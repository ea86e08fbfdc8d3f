"""“Find my station”: residents find their village station or point — by county and town,
by name, or nearest to where they stand. A GET page that works without JavaScript (the
“near me” button alone needs it, to ask the phone where it is), cached for anonymous
visitors like every public page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from portal.cache import NETWORK, cache_public_page
from portal.fields import IdFormField, PlainTextFormField
from portal.pagination import paginate, query_without_page

from . import selectors
from .models import Unit

__all__ = ["INCOMPLETE", "UNREADABLE_POSITION", "FindForm", "find_station"]

# The places listed nearest to the visitor, and how far the search reaches (a box of this
# half-width around them: a county is some 50 km across).
NEAR_LIMIT = 10
NEAR_RADIUS_KM = 50.0
# Coordinates are rounded to this many decimals (about 100 m): enough to find a station,
# no more of the visitor's position than that, and a bounded set of cached pages.
COORDINATE_DECIMALS = 3
PER_PAGE = 50


UNREADABLE_POSITION = _(
    "Your position could not be read. Try “near me” again, or choose your town below."
)
INCOMPLETE = _("Your position needs both a latitude and a longitude.")
_POSITION_ERRORS = {
    "invalid": UNREADABLE_POSITION,
    "min_value": UNREADABLE_POSITION,
    "max_value": UNREADABLE_POSITION,
}


class FindForm(forms.Form):
    county = IdFormField(required=False)
    town = IdFormField(required=False)
    q = PlainTextFormField(required=False, max_length=100)
    lat = forms.FloatField(
        required=False, min_value=-90, max_value=90, error_messages=_POSITION_ERRORS
    )
    lon = forms.FloatField(
        required=False, min_value=-180, max_value=180, error_messages=_POSITION_ERRORS
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lat, lon = data.get("lat"), data.get("lon")
        if (
            (lat is None) != (lon is None)
            and not self.has_error("lat")
            and not self.has_error("lon")
        ):
            raise forms.ValidationError(INCOMPLETE, code="incomplete")
        for name in ("lat", "lon"):
            if data.get(name) is not None:
                data[name] = round(data[name], COORDINATE_DECIMALS)
        return data


def _choice(units: list[Unit], pk: int | None) -> Unit | None:
    return next((u for u in units if u.pk == pk), None)


def _with_paths(places: list[Unit], *, skip: int) -> list[Unit]:
    """Each place with ``where``: the units above it, from the ``skip``-th down (one
    query; the county goes without saying when there is only one)."""
    paths = selectors.unit_paths(places)
    for place in places:
        place.where = " › ".join(paths[place.pk][skip:-1])
    return places


@cache_public_page(NETWORK)
@require_GET
def find_station(request: HttpRequest) -> HttpResponse:
    """``/find/``: choose the county (only when there are several) and the town to list its
    stations and points; or ``?q=`` to search them by name; or ``?lat=&lon=`` (the “near
    me” button) for the nearest ones with their distance. A fixed number of queries."""
    form = FindForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data
    counties = selectors.counties()
    county = counties[0] if len(counties) == 1 else _choice(counties, data.get("county"))
    towns = selectors.towns_of(county) if county is not None else []
    town = _choice(towns, data.get("town"))
    context: dict[str, Any] = {
        "form": form,
        "counties": counties,
        "county": county,
        "towns": towns,
        "town": town,
        "q": data.get("q") or "",
        "mode": None,
        "near_radius_km": int(NEAR_RADIUS_KM),
    }
    skip = 1 if len(counties) == 1 and counties[0].level == 0 else 0
    if valid and data.get("lat") is not None:
        near = selectors.nearest_places(
            data["lat"], data["lon"], limit=NEAR_LIMIT, radius_km=NEAR_RADIUS_KM
        )
        context.update(mode="near", places=_with_paths(near, skip=skip))
    elif valid and context["q"]:
        page = paginate(request, selectors.places_named(context["q"]), PER_PAGE)
        context.update(
            mode="search", page=page, places=_with_paths(list(page.object_list), skip=skip)
        )
    elif town is not None:
        page = paginate(request, selectors.places_in(town), PER_PAGE)
        context.update(mode="town", page=page, places=list(page.object_list))
    if "page" in context:
        context["query"] = query_without_page(request)
    # Unusable input is the visitor's to correct: the form says what, with a 400.
    return render(request, "practice/find_station.html", context, status=200 if valid else 400)
