import os
import shutil
from pathlib import Path

from celery import Celery, signals
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded broker of `make run` (see core/fsbroker.py); registered before any connection opens.
TRANSPORT_ALIASES["gatehouse-fs"] = "core.fsbroker:Transport"

app = Celery("gatehouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Worker metrics (core/taskmetrics.py): before the pool's children start, this worker's samples
# are sent to files in its own folder, which the web's /metrics adds up.
@signals.celeryd_init.connect
def _worker_metrics_folder(sender=None, **_kwargs) -> None:
    """Each worker (node name) writes to its own subfolder, emptied at its start."""
    from django.conf import settings

    if not settings.GATEHOUSE_WORKER_METRICS_DIR:
        return
    folder = Path(settings.GATEHOUSE_WORKER_METRICS_DIR) / str(sender or "worker").replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # prometheus_client picks its value class from that variable when first imported, which the
    # worker has done by now (its tasks' modules were loaded). Every metric child made from here
    # on (all of the workers' metrics are labelled, so made when first counted) reads this
    # module attribute: point it at the multiprocess class too. tests/core/test_worker_metrics.py
    # checks it with a real prefork worker (prometheus-client is pinned).
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue()


@signals.task_prerun.connect
def _task_started(task_id=None, **_kwargs) -> None:
    from core.taskmetrics import task_started

    task_started(task_id)


@signals.task_postrun.connect
def _task_ended(task_id=None, task=None, state=None, **_kwargs) -> None:
    from core.taskmetrics import task_ended

    task_ended(task_id, getattr(task, "name", "unknown"), state)
