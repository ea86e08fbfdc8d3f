"""``/api/v1/``: every app's endpoints under the one ``api`` namespace."""

from django.urls import include, path

from portal.api import password

urlpatterns = [
    path("", include("practice.api.urls")),
    path("", include("volunteers.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("activities.api.urls")),
    path(
        "auth/password-reset/",
        password.PasswordResetView.as_view(),
        name="api-password-reset",
    ),
    path(
        "auth/password-reset/confirm/",
        password.PasswordResetConfirmView.as_view(),
        name="api-password-reset-confirm",
    ),
]
