"""The order — menu — deliver endpoints of ``/api/v1/`` (API.md, "Order — menu — deliver")."""

from django.urls import include, path

from portal.api.routers import Router

from .views import MenuItemViewSet, RequestViewSet

router = Router()
router.register("menu-items", MenuItemViewSet, basename="menu-item")
router.register("requests", RequestViewSet, basename="service-request")

urlpatterns = [path("", include(router.urls))]
