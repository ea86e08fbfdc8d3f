from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """Order — menu — deliver (群众点单、中心配菜、志愿者送餐、群众评单): the service menu,
    residents' requests and their life from the station door to the rating."""

    name = "orders"
    verbose_name = _("Service requests")
