"""The residents' pages: a station's menu, ordering a service, following a request (and
cancelling or rating it), and a unit's public record of completed services (公示).

Residents have no account. They order at ``/units/<id>/order/`` (the address printed on the
station's QR poster) and follow their request at ``/track/<code>/`` (sent by text message)
by giving the phone number they ordered with. Once a browser has given the right number
for a code, its session remembers that for :data:`PROVEN_MINUTES` (the number is kept
encrypted in the session, never in an address), so the resident can cancel or rate without
typing it again.

Caching (``portal.cache``): the menu and transparency pages are public and cached for
anonymous visitors under the ``orders`` version (plus ``network`` and ``volunteers``: they
show units and teams). The order and tracking pages carry a CSRF token and read the
session, so they are never cached — like the login page.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from portal import crypto
from portal.cache import NETWORK, ORDERS, VOLUNTEERS, cache_public_page
from portal.errors import ApplicationError, InvalidTransition, NotFound, ValidationFailed
from portal.validators import normalize_mobile, parse_id
from practice import selectors as practice_selectors
from practice.models import Unit

from . import selectors, services
from .choices import RequestStatus, Transition
from .forms_public import OTHER, OrderForm, PhoneForm, RateForm, TrackStartForm
from .models import MenuItem, ServiceRequest
from .throttling import Throttled, check_order_allowed, check_track_allowed

__all__ = [
    "PROVEN_MINUTES",
    "order_create",
    "track",
    "track_start",
    "unit_menu",
    "unit_order_summary",
    "unit_transparency",
]

# How long a browser that gave the right phone number for a code may act on it.
PROVEN_MINUTES = 30
# Codes one session remembers at most (a family phone following a few requests).
PROVEN_KEPT = 10
SESSION_PROVEN = "orders_proven"
SESSION_SENT = "orders_sent"
# What a station's public page shows of its menu and of its completed services.
UNIT_PAGE_MENU = 8
UNIT_PAGE_RECENT = 5


# --- helpers -------------------------------------------------------------------------------


def _explain(status: str) -> str:
    """What the status means for the resident, in plain words."""
    explained: dict[str, str] = {
        RequestStatus.SUBMITTED: _(
            "We have your request. The station will pass it to a volunteer team soon."
        ),
        RequestStatus.DISPATCHED: _(
            "A volunteer team has been asked to help. A volunteer will take it on soon."
        ),
        RequestStatus.CLAIMED: _(
            "A volunteer has taken it on and will come as agreed or call you first."
        ),
        RequestStatus.DELIVERED: _("The service has been done. Please tell us how it went."),
        RequestStatus.CLOSED: _("Finished. Thank you for your rating."),
        RequestStatus.REJECTED: _("The station could not take this request. The reason is below."),
        RequestStatus.CANCELLED: _("This request was cancelled."),
    }
    return explained.get(status, "")


def _show_errors(form: Any, exc: ValidationFailed) -> None:
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        target = field if field in form.fields else None
        if field == "menu_item":
            target = "item"
        for error in errors:
            form.add_error(target, error)


def _throttled(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render(request, "orders/public/throttled.html", {"message": exc.message}, status=429)


def _public_unit(request: HttpRequest, pk: int) -> tuple[Unit, HttpResponse | None]:
    """The unit of a resident's page, or the closed unit's page (410) when it is inactive."""
    unit = get_object_or_404(Unit, pk=pk)
    if not unit.is_active:
        closed = render(
            request,
            "practice/unit_closed.html",
            practice_selectors.closed_unit_context(unit),
            status=410,
        )
        return unit, closed
    return unit, None


def _by_platform(items: list[MenuItem]) -> list[tuple[Any, list[MenuItem]]]:
    """Menu items grouped by platform, in the platforms' order (the selector's)."""
    return [(cat, list(group)) for cat, group in itertools.groupby(items, key=lambda i: i.category)]


def duration_words(value: dt.timedelta | None) -> str:
    """``3 hours``, ``2 days``: an average duration for residents (— when there is none)."""
    if value is None:
        return "—"
    minutes = max(1, round(value.total_seconds() / 60))
    if minutes < 60:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = round(minutes / 60)
    if hours < 48:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    days = round(hours / 24)
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


def _figures(unit: Unit) -> dict[str, Any]:
    figures = selectors.satisfaction(unit)
    rated = figures["rated"]
    figures["satisfied_percent"] = round(100 * figures["satisfied"] / rated) if rated else None
    figures["response_words"] = duration_words(figures["response"])
    figures["delivery_words"] = duration_words(figures["delivery"])
    return figures


def unit_order_summary(unit: Unit) -> dict[str, Any]:
    """What a station's public page shows of ordering (practice ``unit_detail``, in its
    versioned bundle): the menu's headlines, the last completed services and the figures
    (three queries: the headlines need no teams)."""
    menu = list(selectors.menu_for_unit(unit).prefetch_related(None)[: UNIT_PAGE_MENU + 1])
    return {
        "menu_headlines": menu[:UNIT_PAGE_MENU],
        "menu_more": len(menu) > UNIT_PAGE_MENU,
        "recent_completed": selectors.recent_completed(unit, limit=UNIT_PAGE_RECENT),
        "order_figures": _figures(unit),
    }


# --- the session's proof that this browser knows a request's phone number ----------------


def _remember(request: HttpRequest, code: str, phone: str) -> None:
    now = time.time()
    proven = {
        c: entry
        for c, entry in request.session.get(SESSION_PROVEN, {}).items()
        if entry.get("until", 0) > now and c != code
    }
    proven[code] = {"phone": crypto.encrypt(phone), "until": now + PROVEN_MINUTES * 60}
    while len(proven) > PROVEN_KEPT:
        proven.pop(min(proven, key=lambda c: proven[c]["until"]))
    request.session[SESSION_PROVEN] = proven


def _proven_phone(request: HttpRequest, code: str) -> str | None:
    entry = request.session.get(SESSION_PROVEN, {}).get(code)
    if not entry or entry.get("until", 0) <= time.time():
        return None
    try:
        return crypto.decrypt(entry["phone"])
    except Exception:  # a key rotated since: ask again
        return None


def _forget(request: HttpRequest, code: str) -> None:
    proven = dict(request.session.get(SESSION_PROVEN, {}))
    if proven.pop(code, None) is not None:
        request.session[SESSION_PROVEN] = proven


# --- ordering --------------------------------------------------------------------------------


# Never cached: the form carries a CSRF token (for the POST) and the page reads the session
# (the confirmation after a successful order). The public page cache would refuse to store
# it anyway; never_cache also keeps browsers and proxies from keeping a copy.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def order_create(request: HttpRequest, pk: int) -> HttpResponse:
    unit, closed = _public_unit(request, pk)
    if closed is not None:
        return closed
    sent = request.session.get(SESSION_SENT)
    if request.method == "GET" and request.GET.get("sent") and sent and sent["unit"] == unit.pk:
        return render(
            request,
            "orders/public/order_done.html",
            {"unit": unit, "code": sent["code"], "title": sent["title"]},
        )
    menu = list(selectors.menu_for_unit(unit))
    initial: dict[str, Any] = {}
    wanted = request.GET.get("item", "")
    if wanted:
        try:
            wanted_id = parse_id(wanted)
        except ValidationError:
            wanted_id = None
        if any(item.pk == wanted_id for item in menu):
            initial["item"] = str(wanted_id)
    if not menu:
        initial["item"] = OTHER
    form = OrderForm(request.POST or None, menu=menu, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_spam():
            # A robot filled the hidden field: a neutral refusal, nothing saved.
            form.add_error(
                None,
                _("Your request could not be sent. Please try again, or call the station."),
            )
        elif form.is_valid():
            try:
                check_order_allowed(request, form.cleaned_data["contact_phone"])
            except Throttled as exc:
                return _throttled(request, exc)
            try:
                created = services.request_submit(data=form.service_data(unit))
            except ValidationFailed as exc:
                _show_errors(form, exc)
            except services.TooManyOpenRequests as exc:
                form.add_error(None, str(exc.message))
                status = 429
            else:
                phone = normalize_mobile(form.cleaned_data["contact_phone"])
                _remember(request, created.tracking_code, phone)
                request.session[SESSION_SENT] = {
                    "unit": unit.pk,
                    "code": created.tracking_code,
                    "title": created.title,
                }
                return redirect(reverse("order-create", args=[unit.pk]) + "?sent=1")
    return render(
        request,
        "orders/public/order_form.html",
        {
            "unit": unit,
            "form": form,
            "groups": _by_platform(menu),
            "chosen": form["item"].value() or "",
            "other": OTHER,
        },
        status=status,
    )


@cache_public_page(NETWORK, VOLUNTEERS, ORDERS)
@require_GET
def unit_menu(request: HttpRequest, pk: int) -> HttpResponse:
    unit, closed = _public_unit(request, pk)
    if closed is not None:
        return closed
    items = list(selectors.menu_for_unit(unit))
    platform = request.GET.get("category", "")
    if platform:
        items = [item for item in items if item.category.code == platform]
    return render(
        request,
        "orders/public/unit_menu.html",
        {
            "unit": unit,
            "ancestors": practice_selectors.unit_ancestors(unit),
            "groups": _by_platform(items),
            "platform": next((i.category for i in items), None) if platform else None,
            "filtered": bool(platform),
        },
    )


@cache_public_page(NETWORK, ORDERS)
@require_GET
def unit_transparency(request: HttpRequest, pk: int) -> HttpResponse:
    """公示: the services completed in the unit's subtree — place, service, dates, rating;
    never who asked (no name, phone, tracking code or description)."""
    unit, closed = _public_unit(request, pk)
    if closed is not None:
        return closed
    return render(
        request,
        "orders/public/unit_transparency.html",
        {
            "unit": unit,
            "ancestors": practice_selectors.unit_ancestors(unit),
            "recent": selectors.recent_completed(unit),
            "figures": _figures(unit),
            "shown": selectors.TRANSPARENCY_SHOWN,
        },
    )


# --- following a request -----------------------------------------------------------------


@never_cache
@require_GET
def track_start(request: HttpRequest) -> HttpResponse:
    form = TrackStartForm(request.GET if "code" in request.GET else None)
    if form.is_bound and form.is_valid():
        code = services.normalize_tracking_code(form.cleaned_data["code"])
        if len(code) == services.CODE_LENGTH:
            return redirect("track", code=code)
        form.add_error("code", _("A tracking code has 8 letters and digits."))
    return render(request, "orders/public/track_start.html", {"form": form})


def _timeline(found: ServiceRequest) -> list[dict[str, Any]]:
    steps = selectors.public_timeline(found)
    for step in steps:
        step["label"] = Transition(step["action"]).label
    return steps


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def track(request: HttpRequest, code: str) -> HttpResponse:
    canonical = services.normalize_tracking_code(code)
    if canonical != code and len(canonical) == services.CODE_LENGTH:
        return redirect("track", code=canonical)
    code = canonical
    action = request.POST.get("action", "") if request.method == "POST" else ""
    phone_form = PhoneForm(request.POST if action == "lookup" else None)
    rate_form = RateForm(request.POST if action == "rate" else None)
    here = reverse("track", args=[code]) if code else reverse("track-start")
    status = 200

    if action == "lookup":
        try:
            check_track_allowed(request)
        except Throttled as exc:
            return _throttled(request, exc)
        if phone_form.is_valid():
            given = normalize_mobile(phone_form.cleaned_data["phone"])
            try:
                services.request_for_requester(code=code, phone=given)
            except NotFound:
                pass
            else:
                _remember(request, code, given)
                return redirect(here)
        phone_form = PhoneForm(request.POST)
        phone_form.is_valid()
        phone_form.add_error(None, _("No request matches this code and phone number."))
        status = 404

    phone = _proven_phone(request, code) if code else None
    found = None
    if phone is not None:
        try:
            found = services.request_for_requester(code=code, phone=phone)
        except NotFound:  # the session's proof no longer matches (it cannot, but be safe)
            _forget(request, code)
    if found is None:
        if action in ("cancel", "rate"):
            messages.error(request, _("Please give your phone number again."))
            return redirect(here)
        return render(
            request,
            "orders/public/track_phone.html",
            {"code": code, "form": phone_form},
            status=status,
        )

    if action == "cancel":
        try:
            services.request_cancel(request=found, code=code, phone=phone)
        except (InvalidTransition, NotFound) as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Your request was cancelled."))
        return redirect(here)
    if action == "rate":
        if rate_form.is_valid():
            try:
                services.request_rate(
                    request=found,
                    code=code,
                    phone=phone,
                    rating=rate_form.cleaned_data["rating"],
                    comment=rate_form.cleaned_data["comment"],
                )
            except ValidationFailed as exc:
                _show_errors(rate_form, exc)
            except (InvalidTransition, NotFound) as exc:
                messages.error(request, str(exc.message))
                return redirect(here)
            else:
                messages.success(request, _("Thank you for your rating."))
                return redirect(here)
        status = 400

    return render(
        request,
        "orders/public/track.html",
        {
            "code": code,
            "req": found,
            "explained": _explain(found.status),
            "timeline": _timeline(found),
            "may_cancel": found.status in (RequestStatus.SUBMITTED, RequestStatus.DISPATCHED),
            "may_rate": found.status == RequestStatus.DELIVERED,
            "rate_form": rate_form,
        },
        status=status,
    )
