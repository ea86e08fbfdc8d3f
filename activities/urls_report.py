"""Pages of activities: the report part (included by :mod:`activities.urls`) — a unit's
annual report, printable, and as .xlsx and .docx."""

from django.urls import URLPattern, URLResolver, path

from . import views_report

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "units/<id:pk>/report/<int:year>/",
        views_report.unit_annual_report,
        name="unit-annual-report",
    ),
    path(
        "units/<id:pk>/report/<int:year>.xlsx",
        views_report.unit_annual_report_xlsx,
        name="unit-annual-report-xlsx",
    ),
    path(
        "units/<id:pk>/report/<int:year>.docx",
        views_report.unit_annual_report_docx,
        name="unit-annual-report-docx",
    ),
]
