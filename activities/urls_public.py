"""Pages of activities: the public part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver, path

from . import views_public

urlpatterns: list[URLPattern | URLResolver] = [
    path("activities/", views_public.activity_feed, name="activity-feed"),
    path("activities/calendar/", views_public.activity_calendar, name="activity-calendar"),
    path("activities/<id:pk>/", views_public.activity_public, name="activity-public"),
]
