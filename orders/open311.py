"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) under ``/open311/v2/``.

JSON only (a ``.xml`` address answers 400), errors as the specification writes them — a
JSON array ``[{"code": <HTTP status>, "description": "..."}]`` — not the portal's API error
shape, so these are plain Django views.

The mapping (docs/api.md, "Open311"):

- a *jurisdiction* is a unit: ``jurisdiction_id`` is its id. ``services.json`` lists the
  menu a resident of that unit can order (the unit's own items and those of every unit
  above it, :func:`orders.selectors.menu_for_unit`);
- a *service* is an active menu item; its ``service_code`` is the item's id as a string;
- a *service request* is a :class:`ServiceRequest`; ``service_request_id`` is its id as a
  string. ``open`` means submitted, dispatched or claimed; ``closed`` everything else. The
  resident's name, phone and tracking code are never shown.

GET is public. ``POST requests.json`` needs the ``api_key`` of an active
:class:`Open311Client` (issued in the admin, stored as a hash) and files the request through
:func:`orders.services.request_submit` like the order page does (channel ``open311``); the
resident gets the tracking code by text message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.api.throttling import AnonRateThrottle
from portal.cache import NETWORK, ORDERS, cache_public_page
from portal.errors import ApplicationError, ValidationFailed
from practice.models import Unit

from . import selectors, services
from .choices import OPEN_STATUSES, Transition
from .models import MenuItem, Open311Client, RequestEvent, ServiceRequest

__all__ = [
    "MAX_RESULTS",
    "SPECIFICATION",
    "discovery",
    "hash_key",
    "not_found",
    "request_detail",
    "requests_view",
    "service_definition",
    "services_list",
]

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T00:00:00+08:00"
# GET requests.json: at most this many requests, the last 90 days unless dates are given.
MAX_RESULTS = 1000
DEFAULT_WINDOW = dt.timedelta(days=90)
# Where request_submit's field names are given in Open311's parameters.
PARAMETER_OF = {
    "unit": "jurisdiction_id",
    "menu_item": "service_code",
    "category": "service_code",
    "contact_name": "last_name",
    "contact_phone": "phone",
    "title": "description",
    "description": "description",
    "address": "address_string",
    "latitude": "lat",
    "longitude": "long",
}


class Open311Error(Exception):
    """A refusal in the specification's shape: one or several ``(code, description)``."""

    def __init__(self, status: int, *descriptions: str) -> None:
        self.status = status
        self.descriptions = descriptions or (_("The request could not be completed."),)
        super().__init__(self.descriptions[0])


def _errors(status: int, descriptions: Any) -> JsonResponse:
    return JsonResponse(
        [{"code": status, "description": str(d)} for d in descriptions],
        status=status,
        safe=False,
    )


def _from_application_error(exc: ApplicationError) -> JsonResponse:
    status = exc.status_code
    if isinstance(exc, ValidationFailed) and exc.detail:
        descriptions = []
        for field, messages in exc.detail.items():
            name = PARAMETER_OF.get(field.split(".")[0], field)
            descriptions += [f"{name}: {m}" for m in messages]
        return _errors(status, descriptions)
    return _errors(status, [exc.message])


View = Callable[..., HttpResponse]


def open311_view(view: View) -> View:
    """JSON only, and every refusal in the specification's error shape."""

    def wrapper(request: HttpRequest, *args: Any, fmt: str = "json", **kwargs: Any) -> HttpResponse:
        if fmt.lower() != "json":
            return _errors(400, [_("Only the JSON format is supported: use .json.")])
        try:
            return view(request, *args, **kwargs)
        except Open311Error as exc:
            return _errors(exc.status, exc.descriptions)
        except ApplicationError as exc:
            return _from_application_error(exc)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- jurisdictions and services ----------------------------------------------------------


def _jurisdiction(value: Any) -> Unit:
    unit = _jurisdiction_if_given(value)
    if unit is None:
        raise Open311Error(400, _("jurisdiction_id was not provided (the id of a unit)."))
    return unit


def _jurisdiction_if_given(value: Any) -> Unit | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise Open311Error(404, _("jurisdiction_id provided was not found."))
    unit = Unit.objects.filter(pk=int(text), is_active=True).first()
    if unit is None:
        raise Open311Error(404, _("jurisdiction_id provided was not found."))
    return unit


def _service(item: MenuItem) -> dict[str, Any]:
    return {
        "service_code": str(item.pk),
        "service_name": item.title,
        "description": item.description,
        "metadata": False,
        "type": "realtime",
        "keywords": item.category.name,
        "group": item.category.code,
    }


def _item(code: Any, unit: Unit | None) -> MenuItem:
    text = str(code or "").strip()
    if not text:
        raise Open311Error(400, _("service_code was not provided."))
    item = None
    if text.isdigit() and len(text) <= 18:
        item = (
            MenuItem.objects.select_related("unit", "category")
            .filter(pk=int(text), is_active=True, unit__is_active=True)
            .first()
        )
    if item is None or (unit is not None and not services.offered_at(item, unit)):
        raise Open311Error(404, _("service_code provided was not found."))
    return item


@require_http_methods(["GET", "HEAD"])
@cache_public_page(NETWORK, ORDERS)
@open311_view
def discovery(request: HttpRequest) -> HttpResponse:
    """Where the endpoint is and what it speaks."""
    base = request.build_absolute_uri(reverse("open311-discovery", kwargs={"fmt": "json"}))
    return _json(
        {
            "changeset": CHANGESET,
            "contact": _("The county civilization office (see the unit pages for phone numbers)."),
            "key_service": _("API keys are issued by the portal's administrators."),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base.rsplit("/", 1)[0] + "/",
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json"],
                }
            ],
        }
    )


@require_http_methods(["GET", "HEAD"])
@cache_public_page(NETWORK, ORDERS)
@open311_view
def services_list(request: HttpRequest) -> HttpResponse:
    """The menu of the unit ``jurisdiction_id`` (required: every unit is a jurisdiction)."""
    unit = _jurisdiction(request.GET.get("jurisdiction_id"))
    items = selectors.menu_for_unit(unit).filter(unit__is_active=True)[:MAX_RESULTS]
    return _json([_service(item) for item in items])


@require_http_methods(["GET", "HEAD"])
@cache_public_page(NETWORK, ORDERS)
@open311_view
def service_definition(request: HttpRequest, code: str) -> HttpResponse:
    """Our services need no extra attributes (``metadata`` false): the definition lists none."""
    unit = _jurisdiction_if_given(request.GET.get("jurisdiction_id"))
    item = _item(code, unit)
    return _json({"service_code": str(item.pk), "attributes": []})


# --- requests: reading ---------------------------------------------------------------------


def _last_public_note() -> Subquery:
    """The office's or the team's latest answer the resident sees: a rejection's reason or
    what was done (never a resident's own words: their rating comment stays off here)."""
    return Subquery(
        RequestEvent.objects.filter(
            request=OuterRef("pk"),
            public=True,
            action__in=[Transition.REJECT, Transition.DELIVER],
        )
        .exclude(note="")
        .order_by("-at", "-pk")
        .values("note")[:1]
    )


def _public_requests() -> QuerySet[ServiceRequest]:
    """Requests with only what Open311 shows: never the resident's name, phone or code."""
    return (
        ServiceRequest.objects.select_related("unit", "menu_item", "category")
        .only(
            "pk",
            "status",
            "title",
            "description",
            "menu_item__id",
            "menu_item__title",
            "unit__name",
            "unit__address",
            "unit__latitude",
            "unit__longitude",
            "category__code",
            "category__name",
            "category__name_en",
            "created_at",
            "updated_at",
            "due_date",
        )
        .annotate(status_notes=_last_public_note())
    )


def _expected(value: dt.date | None) -> str | None:
    if value is None:
        return None
    end_of_day = dt.datetime.combine(value, dt.time(23, 59, 59))
    return timezone.make_aware(end_of_day).isoformat(timespec="seconds")


def _coordinate(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _request_row(req: ServiceRequest) -> dict[str, Any]:
    """A request as the public sees it: what was asked and where it is served — the
    station's address and position, never the resident's own words, address or position
    (they may point to a home), nor their name, phone or tracking code."""
    item = req.menu_item
    return {
        "service_request_id": str(req.pk),
        "status": "open" if req.status in OPEN_STATUSES else "closed",
        "status_notes": getattr(req, "status_notes", None) or None,
        "service_name": item.title if item is not None else req.category.display_name,
        "service_code": str(item.pk) if item is not None else None,
        "description": None,
        "agency_responsible": req.unit.name,
        "service_notice": None,
        "requested_datetime": _datetime(req.created_at),
        "updated_datetime": _datetime(req.updated_at),
        "expected_datetime": _expected(req.due_date),
        "address": req.unit.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": _coordinate(req.unit.latitude),
        "long": _coordinate(req.unit.longitude),
        "media_url": None,
    }


def _when(value: str, name: str) -> dt.datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(
            400, _("%(name)s is not a valid date and time (W3C format).") % {"name": name}
        ) from exc
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def _ids(value: str) -> list[int]:
    ids: list[int] = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        if not text.isdigit() or len(text) > 18:
            raise Open311Error(400, _("service_request_id must be ids separated by commas."))
        ids.append(int(text))
    if len(ids) > MAX_RESULTS:
        raise Open311Error(
            400, _("At most %(n)d service_request_id at a time.") % {"n": MAX_RESULTS}
        )
    return ids


def _search(params: Mapping[str, str]) -> list[ServiceRequest]:
    found = _public_requests()
    if params.get("service_request_id", "").strip():
        # The specification: with ids given, the other parameters are ignored.
        found = found.filter(pk__in=_ids(params["service_request_id"]))
        return list(found.order_by("-created_at", "-pk")[:MAX_RESULTS])
    unit = _jurisdiction_if_given(params.get("jurisdiction_id"))
    if unit is not None:
        found = found.filter(
            unit__tree_id=unit.tree_id, unit__lft__gte=unit.lft, unit__lft__lte=unit.rght
        )
    codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
    if codes:
        if not all(c.isdigit() and len(c) <= 18 for c in codes) or len(codes) > 100:
            raise Open311Error(400, _("service_code must be codes separated by commas."))
        found = found.filter(menu_item_id__in=[int(c) for c in codes])
    status = params.get("status", "").strip().lower()
    if status == "open":
        found = found.filter(status__in=OPEN_STATUSES)
    elif status == "closed":
        found = found.exclude(status__in=OPEN_STATUSES)
    elif status:
        raise Open311Error(400, _("status must be open or closed."))
    start = _when(params["start_date"], "start_date") if params.get("start_date") else None
    end = _when(params["end_date"], "end_date") if params.get("end_date") else None
    if start is None and end is None:
        start = timezone.now() - DEFAULT_WINDOW
    elif start is None and end is not None:
        start = end - DEFAULT_WINDOW
    if start is not None and end is not None and start > end:
        raise Open311Error(400, _("start_date must be before end_date."))
    found = found.filter(created_at__gte=start)
    if end is not None:
        found = found.filter(created_at__lte=end)
    return list(found.order_by("-created_at", "-pk")[:MAX_RESULTS])


# --- requests: filing ----------------------------------------------------------------------


def hash_key(key: str) -> str:
    """What is stored of an API key: its SHA-256 (keys are long random strings, so a plain
    hash suffices — nothing to guess)."""
    return hashlib.sha256(key.encode()).hexdigest()


class Open311Throttle(AnonRateThrottle):
    """``POST requests.json`` per API key (scope ``open311``)."""

    scope = "open311"

    def __init__(self, client: Open311Client) -> None:
        super().__init__()
        self.client = client

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.client.key_hash}


def _client(request: HttpRequest) -> Open311Client:
    key = str(request.POST.get("api_key") or "").strip()
    client = None
    if key and len(key) <= 200:
        client = Open311Client.objects.filter(key_hash=hash_key(key), is_active=True).first()
    if client is None:
        raise Open311Error(403, _("Invalid api_key."))
    throttle = Open311Throttle(client)
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        raise Open311Error(429, _("Too many requests with this api_key; try again later."))
    Open311Client.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client


def _degrees(value: str, name: str, limit: int) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise Open311Error(400, _("%(name)s must be a number.") % {"name": name}) from exc
    if not number.is_finite() or not -limit <= number <= limit:
        raise Open311Error(
            400, _("%(name)s must be between -%(n)d and %(n)d.") % {"name": name, "n": limit}
        )
    return number.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _file(request: HttpRequest) -> HttpResponse:
    _client(request)
    params = request.POST
    unit = _jurisdiction(params.get("jurisdiction_id") or params.get("attribute[unit]"))
    item = _item(params.get("service_code"), unit)
    lat, long = params.get("lat", "").strip(), params.get("long", "").strip()
    address = params.get("address_string", "").strip()
    if bool(lat) != bool(long):
        raise Open311Error(400, _("lat and long must be given together."))
    if not (lat or address):
        raise Open311Error(400, _("A location is required: lat and long, or address_string."))
    name = f"{params.get('last_name', '').strip()}{params.get('first_name', '').strip()}"
    created = services.request_submit(
        data={
            "unit": unit,
            "menu_item": item,
            "description": params.get("description", ""),
            "contact_name": name,
            "contact_phone": params.get("phone", ""),
            "address": address,
            "latitude": _degrees(lat, "lat", 90) if lat else None,
            "longitude": _degrees(long, "long", 180) if long else None,
        },
        channel=ServiceRequest.Channel.OPEN311,
    )
    return _json(
        [
            {
                "service_request_id": str(created.pk),
                "service_notice": _(
                    "The office will answer it and send it to a volunteer team; the resident "
                    "gets the tracking code by text message."
                ),
                "account_id": None,
            }
        ],
        status=201,
    )


@cache_public_page(NETWORK, ORDERS)
def _requests_get(request: HttpRequest) -> HttpResponse:
    return _json([_request_row(r) for r in _search(request.GET)])


@csrf_exempt  # a program's POST, proven by its api_key, not a browser form
@require_http_methods(["GET", "HEAD", "POST"])
@open311_view
def requests_view(request: HttpRequest) -> HttpResponse:
    """GET: public search; POST: file a request (form-encoded, with an ``api_key``)."""
    if request.method == "POST":
        return _file(request)
    return _requests_get(request)


@require_http_methods(["GET", "HEAD"])
@cache_public_page(NETWORK, ORDERS)
@open311_view
def request_detail(request: HttpRequest, pk: str) -> HttpResponse:
    found = None
    if pk.isdigit() and len(pk) <= 18:
        found = _public_requests().filter(pk=int(pk)).first()
    if found is None:
        raise Open311Error(404, _("service_request_id provided was not found."))
    return _json([_request_row(found)])


@csrf_exempt
def not_found(request: HttpRequest) -> HttpResponse:
    return _errors(404, [_("There is no such Open311 resource.")])
