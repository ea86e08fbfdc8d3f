"""Open311 GeoReport v2 addresses, under ``/open311/v2/`` (``portal/urls.py``). Each takes
a format suffix; only ``.json`` is served (``.xml`` → 400 in the specification's format)."""

from django.urls import re_path

from . import open311

FMT = r"\.(?P<fmt>[A-Za-z]{1,10})$"

urlpatterns = [
    re_path(r"^discovery" + FMT, open311.discovery, name="open311-discovery"),
    re_path(r"^services" + FMT, open311.services_list, name="open311-services"),
    re_path(
        r"^services/(?P<code>[^/.]{1,40})" + FMT, open311.service_definition, name="open311-service"
    ),
    re_path(r"^requests" + FMT, open311.requests_view, name="open311-requests"),
    re_path(r"^requests/(?P<pk>[^/.]{1,40})" + FMT, open311.request_detail, name="open311-request"),
    # Anything else here: a 404 in the specification's format, not the HTML page.
    re_path(r"", open311.not_found),
]
