"""Pages of activities: the staff part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver, path

from . import views_staff

urlpatterns: list[URLPattern | URLResolver] = [
    path("activities/manage/", views_staff.activity_list, name="activity-list"),
    path("activities/review/", views_staff.review_queue, name="activity-review-queue"),
    path("activities/new/", views_staff.activity_create, name="activity-create"),
    path("activities/<id:pk>/edit/", views_staff.activity_edit, name="activity-edit"),
    path("activities/<id:pk>/manage/", views_staff.activity_manage, name="activity-manage"),
    path("activities/<id:pk>/submit/", views_staff.activity_submit, name="activity-submit"),
    path("activities/<id:pk>/approve/", views_staff.activity_approve, name="activity-approve"),
    path("activities/<id:pk>/return/", views_staff.activity_return, name="activity-return"),
    path(
        "activities/<id:pk>/photos/<id:photo_pk>/delete/",
        views_staff.activity_photo_delete,
        name="activity-photo-delete",
    ),
]
