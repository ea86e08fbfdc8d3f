"""Volunteer pages. ``/volunteer/register/`` and ``/verify/<number>/`` are stable addresses
(API.md): printed on posters and certificates, never changed."""

from django.urls import path

from . import (
    views,
    views_certificates,
    views_hours,
    views_points,
    views_spreadsheets,
    views_teams,
)

urlpatterns: list = [
    # Registration and profiles (volunteers/views.py).
    path("volunteer/register/", views.register, name="volunteer-register"),
    path("volunteer/register/done/", views.register_done, name="volunteer-register-done"),
    path("me/", views.me, name="volunteer-me"),
    path("volunteers/", views.volunteer_list, name="volunteer-list"),
    path("volunteers/new/", views.volunteer_new, name="volunteer-new"),
    # Spreadsheets (volunteers/views_spreadsheets.py); before "volunteers/<id:pk>/".
    path("volunteers/import/", views_spreadsheets.volunteer_import, name="volunteer-import"),
    path("volunteers/export.xlsx", views_spreadsheets.volunteer_export, name="volunteer-export"),
    path(
        "volunteers/<id:pk>/hours.xlsx",
        views_spreadsheets.volunteer_hours_export,
        name="volunteer-hours-export",
    ),
    path("me/hours.xlsx", views_spreadsheets.me_hours_export, name="volunteer-me-hours-export"),
    path(
        "volunteers/import/template.xlsx",
        views_spreadsheets.volunteer_import_template,
        name="volunteer-import-template",
    ),
    path(
        "volunteers/import/<id:job>/",
        views_spreadsheets.volunteer_import_job,
        name="volunteer-import-job",
    ),
    path(
        "volunteers/import/<id:job>/status/",
        views_spreadsheets.volunteer_import_status,
        name="volunteer-import-status",
    ),
    path(
        "volunteers/import/<id:job>/run/",
        views_spreadsheets.volunteer_import_run,
        name="volunteer-import-run",
    ),
    path(
        "volunteers/import/<id:job>/problems.xlsx",
        views_spreadsheets.volunteer_import_problems,
        name="volunteer-import-problems",
    ),
    path("volunteers/<id:pk>/", views.volunteer_detail, name="volunteer-detail"),
    path("volunteers/<id:pk>/edit/", views.volunteer_edit, name="volunteer-edit"),
    path("volunteers/<id:pk>/approve/", views.volunteer_approve, name="volunteer-approve"),
    path("volunteers/<id:pk>/reject/", views.volunteer_reject, name="volunteer-reject"),
    path("volunteers/<id:pk>/status/", views.volunteer_status, name="volunteer-status"),
    path("volunteers/<id:pk>/reveal-id/", views.volunteer_reveal_id, name="volunteer-reveal-id"),
    # Teams (volunteers/views_teams.py).
    path("teams/", views_teams.team_list, name="team-list"),
    path("teams/new/", views_teams.team_new, name="team-new"),
    path("teams/<id:pk>/", views_teams.team_detail, name="team-detail"),
    path("teams/<id:pk>/edit/", views_teams.team_edit, name="team-edit"),
    path("teams/<id:pk>/members/add/", views_teams.team_member_add, name="team-member-add"),
    path(
        "teams/<id:pk>/members/<id:volunteer>/remove/",
        views_teams.team_member_remove,
        name="team-member-remove",
    ),
    path(
        "teams/<id:pk>/requests/<id:membership>/accept/",
        views_teams.team_request_accept,
        name="team-request-accept",
    ),
    path(
        "teams/<id:pk>/requests/<id:membership>/decline/",
        views_teams.team_request_decline,
        name="team-request-decline",
    ),
    path("me/teams/", views_teams.me_teams, name="volunteer-me-teams"),
    path("me/teams/<id:pk>/join/", views_teams.me_team_join, name="volunteer-me-team-join"),
    path("me/teams/<id:pk>/leave/", views_teams.me_team_leave, name="volunteer-me-team-leave"),
    # Service records and points (volunteers/views_hours.py).
    path("service-records/", views_hours.record_list, name="service-record-list"),
    path("service-records/new/", views_hours.record_new, name="service-record-new"),
    path("service-records/<id:pk>/", views_hours.record_detail, name="service-record-detail"),
    path(
        "service-records/<id:pk>/confirm/",
        views_hours.record_confirm,
        name="service-record-confirm",
    ),
    path("service-records/<id:pk>/void/", views_hours.record_void, name="service-record-void"),
    path("points/", views_points.points_manage, name="points-manage"),
    path("points/shop/", views_hours.points_shop, name="points-shop"),
    path("me/hours/", views_hours.me_hours, name="volunteer-me-hours"),
    path("me/points/", views_hours.me_points, name="volunteer-me-points"),
    # Certificates (volunteers/views_certificates.py); /verify/ is a stable address.
    path("me/certificate/", views_certificates.me_certificate, name="volunteer-me-certificate"),
    path(
        "volunteers/<id:pk>/certificate/",
        views_certificates.volunteer_certificate,
        name="volunteer-certificate",
    ),
    path("verify/", views_certificates.verify_form, name="certificate-verify-form"),
    path("verify/<str:number>/", views_certificates.verify, name="certificate-verify"),
]
