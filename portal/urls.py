"""Root URLconf. Page addresses under ``/units/``, ``/track/``, ``/verify/`` are printed on
QR codes and never change (API.md, "Stable page addresses")."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import portal.converters  # noqa: F401 - registers the "id" path converter first
from portal import views_inbox, views_password
from portal.views import LoginForm, PasswordChangeView, set_display, set_language

urlpatterns = [
    path("", include("practice.urls")),
    path("", include("volunteers.urls")),
    path("", include("orders.urls")),
    path("", include("activities.urls")),
    path("open311/v2/", include("orders.open311_urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", PasswordChangeView.as_view(), name="password-change"),
    path("accounts/password/forgot/", views_password.password_forgot, name="password-forgot"),
    path(
        "accounts/password/forgot/reset/",
        views_password.password_forgot_reset,
        name="password-forgot-reset",
    ),
    # A GET form (no CSRF token in the cached public pages), where Django's POST view was.
    path("i18n/setlang/", set_language, name="set_language"),
    path("display/", set_display, name="set_display"),
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/<id:pk>/", views_inbox.inbox_open, name="inbox-open"),
    path("inbox/read/", views_inbox.inbox_read_all, name="inbox-read-all"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("portal.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from ?script, not inline (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

# Under /api/ the contract's JSON error body, elsewhere the error pages (templates/4xx, 500).
handler400 = "portal.api.handlers.bad_request"
handler403 = "portal.api.handlers.permission_denied"
handler404 = "portal.api.handlers.page_not_found"
handler500 = "portal.api.handlers.server_error"
