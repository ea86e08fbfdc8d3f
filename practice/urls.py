from django.urls import path

import portal.converters  # noqa: F401 - registers the "id" converter

from . import views, views_find

urlpatterns = [
    path("", views.home, name="home"),
    path("units/", views.unit_tree, name="unit-tree"),
    path("find/", views_find.find_station, name="find-station"),
    path("units/add/", views.unit_create, name="unit-create-root"),
    path("units/import-template.xlsx", views.unit_import_template, name="unit-import-template"),
    path("units/<id:pk>/", views.unit_detail, name="unit-detail"),
    path("units/<id:pk>/qr.svg", views.unit_qr, name="unit-qr"),
    path("units/<id:pk>/poster/", views.unit_poster, name="unit-poster"),
    path("units/<id:pk>/add/", views.unit_create, name="unit-create"),
    path("units/<id:pk>/edit/", views.unit_edit, name="unit-edit"),
    path("units/<id:pk>/move/", views.unit_move, name="unit-move"),
    path("units/<id:pk>/export.xlsx", views.unit_export, name="unit-export"),
    path("units/<id:pk>/import/", views.unit_import, name="unit-import"),
    path("units/<id:pk>/import/<id:job>/", views.unit_import_job, name="unit-import-job"),
    path(
        "units/<id:pk>/import/<id:job>/confirm/",
        views.unit_import_confirm,
        name="unit-import-confirm",
    ),
    path("units/<id:pk>/import/<id:job>/run/", views.unit_import_run, name="unit-import-run"),
    path(
        "units/<id:pk>/import/<id:job>/status/",
        views.unit_import_status,
        name="unit-import-status",
    ),
    path(
        "units/<id:pk>/deactivate/",
        views.unit_set_active,
        {"active": False},
        name="unit-deactivate",
    ),
    path(
        "units/<id:pk>/reactivate/",
        views.unit_set_active,
        {"active": True},
        name="unit-reactivate",
    ),
    path(
        "units/<id:pk>/deactivate-all/",
        views.unit_deactivate_subtree,
        name="unit-deactivate-subtree",
    ),
    path("units/<id:pk>/delete/", views.unit_delete, name="unit-delete"),
    path("units/<id:pk>/audit/", views.audit_log, name="unit-audit"),
    path("units/<id:pk>/audit/export.xlsx", views.audit_export, name="unit-audit-export"),
    path("units/<id:pk>/roles/", views.unit_roles, name="unit-roles"),
    path("roles/<id:pk>/revoke/", views.role_revoke, name="role-revoke"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.xlsx", views.audit_export, name="audit-export"),
    path("staff/users/", views.user_list, name="user-list"),
    path("staff/users/add/", views.user_create, name="user-create"),
    path("staff/users/<id:pk>/edit/", views.user_edit, name="user-edit"),
]
