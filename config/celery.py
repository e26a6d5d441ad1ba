import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded broker of `make run` (see core/fsbroker.py); registered before any connection opens.
TRANSPORT_ALIASES["gatehouse-fs"] = "core.fsbroker:Transport"

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
