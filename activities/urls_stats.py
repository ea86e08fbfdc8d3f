"""Pages of activities: the stats part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
