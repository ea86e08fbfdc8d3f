"""Pages of activities: the photos part (included by :mod:`activities.urls`)."""

from django.urls import URLPattern, URLResolver, path

from . import views_photos

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "activities/photos/<id:pk>/<slug:size>/",
        views_photos.photo_file,
        name="activity-photo",
    ),
]
