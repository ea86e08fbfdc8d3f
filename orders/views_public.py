"""(being written)"""

from django.http import Http404, HttpRequest, HttpResponse


def order_create(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def unit_menu(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def unit_transparency(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def track_start(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def track(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404
