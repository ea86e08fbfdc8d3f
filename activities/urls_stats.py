"""Pages of activities: the stats part (included by :mod:`activities.urls`) — the
statistics dashboard, the exports, and the pages of a background export job."""

from django.urls import URLPattern, URLResolver, path

from portal import views_exports

from . import views_stats

urlpatterns: list[URLPattern | URLResolver] = [
    path("units/<id:pk>/statistics/", views_stats.unit_statistics, name="unit-statistics"),
    path(
        "units/<id:pk>/statistics.xlsx",
        views_stats.unit_statistics_xlsx,
        name="unit-statistics-xlsx",
    ),
    path("activities/export.xlsx", views_stats.activity_export, name="activity-export"),
    # The generic export jobs (portal.exports), here so that no URLconf of another part
    # needs an edit; the addresses are the portal's, not the activities'.
    path("exports/<id:pk>/", views_exports.export_job, name="export-job"),
    path("exports/<id:pk>/status/", views_exports.export_job_status, name="export-job-status"),
    path(
        "exports/<id:pk>/download/",
        views_exports.export_job_download,
        name="export-job-download",
    ),
    path("exports/<id:pk>/run/", views_exports.export_job_run, name="export-job-run"),
]
