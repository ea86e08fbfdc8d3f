"""Pages of order — menu — deliver. ``/units/<id>/order/`` and ``/track/<code>/`` are
printed on posters and sent in text messages: they never change (API.md)."""

from django.urls import path

from . import views_public, views_staff, views_volunteer

urlpatterns = [
    # Residents (public)
    path("units/<id:pk>/order/", views_public.order_create, name="order-create"),
    path("units/<id:pk>/menu/", views_public.unit_menu, name="unit-menu"),
    path("units/<id:pk>/services/", views_public.unit_transparency, name="unit-transparency"),
    path("track/", views_public.track_start, name="track-start"),
    path("track/<str:code>/", views_public.track, name="track"),
    # Staff: the dispatch queue, a request, filing for a resident, the menu
    path("requests/", views_staff.request_list, name="request-list"),
    path("requests/new/", views_staff.request_file, name="request-file"),
    path("requests/<id:pk>/", views_staff.request_detail, name="request-detail"),
    path("requests/<id:pk>/dispatch/", views_staff.request_dispatch, name="request-dispatch"),
    path("requests/<id:pk>/reject/", views_staff.request_reject, name="request-reject"),
    path("requests/<id:pk>/review/", views_staff.request_review, name="request-review"),
    path("menu/", views_staff.menu_list, name="menu-list"),
    path("menu/new/", views_staff.menu_create, name="menu-create"),
    path("menu/<id:pk>/edit/", views_staff.menu_edit, name="menu-edit"),
    # Volunteers (phone first)
    path("tasks/", views_volunteer.task_list, name="volunteer-tasks"),
    path("requests/<id:pk>/claim/", views_volunteer.request_claim, name="request-claim"),
    path("requests/<id:pk>/decline/", views_volunteer.request_decline, name="request-decline"),
    path("requests/<id:pk>/deliver/", views_volunteer.request_deliver, name="request-deliver"),
]
