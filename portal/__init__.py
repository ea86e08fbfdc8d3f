"""Project package: settings, root URLs, the Celery app, shared base classes and errors."""

from .celery import app as celery_app

__all__ = ["celery_app"]
