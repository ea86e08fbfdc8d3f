"""(being written)"""

from django.http import Http404, HttpRequest, HttpResponse


def request_list(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_file(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_detail(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_dispatch(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_reject(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_review(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def menu_list(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def menu_create(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def menu_edit(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404
