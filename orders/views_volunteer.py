"""(being written)"""

from django.http import Http404, HttpRequest, HttpResponse


def task_list(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_claim(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_decline(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


def request_deliver(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404
