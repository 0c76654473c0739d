"""The Celery app: Redis broker, JSON only, settings read from Django's CELERY_* values."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("mingchu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
