"""Pages of activities: the photos part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
