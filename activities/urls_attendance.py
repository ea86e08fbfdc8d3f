"""Pages of activities: the attendance part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver, path

from . import views_attendance as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("activities/<id:pk>/signup/", views.activity_signup, name="activity-signup"),
    path(
        "activities/<id:pk>/signup/cancel/",
        views.activity_signup_cancel,
        name="activity-signup-cancel",
    ),
    path("activities/<id:pk>/qr/", views.activity_qr, name="activity-qr"),
    path(
        "activities/<id:pk>/check-in/<str:key>/",
        views.activity_check_in,
        name="activity-check-in",
    ),
    path(
        "activities/<id:pk>/check-out/<str:key>/",
        views.activity_check_out,
        name="activity-check-out",
    ),
    path("me/activities/", views.my_activities, name="my-activities"),
]
