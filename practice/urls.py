from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("units/", views.unit_tree, name="unit-tree"),
    path("units/add/", views.unit_create, name="unit-create-root"),
    path("units/import-template.xlsx", views.unit_import_template, name="unit-import-template"),
    path("units/<int:pk>/", views.unit_detail, name="unit-detail"),
    path("units/<int:pk>/qr.svg", views.unit_qr, name="unit-qr"),
    path("units/<int:pk>/poster/", views.unit_poster, name="unit-poster"),
    path("units/<int:pk>/add/", views.unit_create, name="unit-create"),
    path("units/<int:pk>/edit/", views.unit_edit, name="unit-edit"),
    path("units/<int:pk>/move/", views.unit_move, name="unit-move"),
    path("units/<int:pk>/export.xlsx", views.unit_export, name="unit-export"),
    path("units/<int:pk>/import/", views.unit_import, name="unit-import"),
    path(
        "units/<int:pk>/deactivate/",
        views.unit_set_active,
        {"active": False},
        name="unit-deactivate",
    ),
    path(
        "units/<int:pk>/reactivate/",
        views.unit_set_active,
        {"active": True},
        name="unit-reactivate",
    ),
    path("units/<int:pk>/delete/", views.unit_delete, name="unit-delete"),
    path("units/<int:pk>/roles/", views.unit_roles, name="unit-roles"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role-revoke"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("staff/users/", views.user_list, name="user-list"),
    path("staff/users/add/", views.user_create, name="user-create"),
    path("staff/users/<int:pk>/edit/", views.user_edit, name="user-edit"),
]
