"""The Celery application. Without ``REDIS_URL`` tasks run eagerly in-process."""

import os

from celery import Celery

# A worker or beat started without DJANGO_SETTINGS_MODULE is a production process.
# (manage.py sets the dev settings before this runs; pytest sets the test settings.)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.production")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
