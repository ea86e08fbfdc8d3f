from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class PortalConfig(AppConfig):
    name = "portal"

    def ready(self) -> None:
        from portal.middleware import IdleSessionMiddleware

        # A session's idle clock starts when it logs in.
        user_logged_in.connect(
            IdleSessionMiddleware.start_clock, dispatch_uid="portal.idle_session_clock"
        )
