"""The URLconf of the bench: the portal's own URLs plus a hello-world view, the ceiling any
page is compared with.

Only the bench uses it: in process through ``override_settings(ROOT_URLCONF=…)``, and in
the load section through ``portal.bench.settings``, which refuses to load outside a bench
run. ``portal.urls`` never includes it, so ``/bench/hello/`` is a 404 in every deployment.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from portal.urls import handler400, handler403, handler404, handler500

__all__ = ["HELLO_PATH", "handler400", "handler403", "handler404", "handler500", "urlpatterns"]

HELLO_PATH = "/bench/hello/"


def hello_world(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello, world", content_type="text/plain")


urlpatterns = [
    path(HELLO_PATH.strip("/") + "/", hello_world, name="bench-hello"),
    path("", include("portal.urls")),
]
