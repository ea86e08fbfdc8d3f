"""The pages of activities and statistics, one module per part (docs/activities.md)."""

from django.urls import include, path

urlpatterns = [
    path("", include("activities.urls_staff")),
    path("", include("activities.urls_public")),
    path("", include("activities.urls_attendance")),
    path("", include("activities.urls_stats")),
    path("", include("activities.urls_report")),
    path("", include("activities.urls_photos")),
]
