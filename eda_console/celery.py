"""The Celery app ``eda_console``: tasks, beat, and the Kafka consumer host inside the worker.

Broker and result backend are ``settings.REDIS_URL``; every ``CELERY_*`` setting applies
(beat entries live in ``CELERY_BEAT_SCHEDULE``). ``celery -A eda_console worker`` starts
one consumer thread per consumer group it hosts (``apps.messaging.registry``,
``CONSUMER_GROUPS``) in a child process, through the :class:`ConsumerHostStep` bootstep,
unless ``CONSUMER_HOST_ENABLED`` is off.
"""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Any

from celery import Celery, bootsteps
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")

logger = logging.getLogger(__name__)
# A warm stop lets each consumer loop finish and commit its batch in hand for this long.
_WARM_STOP_SECONDS = 60.0

app = Celery("eda_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _connections_check(*, task: Any = None, **_kwargs: Any) -> None:
    """Drop a database connection that is broken or older than ``CONN_MAX_AGE`` before a task.

    The connection is kept between tasks (``CELERY_DB_REUSE_MAX``), so this is the check
    Django makes at the start of each request; a healthy connection costs nothing. An
    eager task runs in its caller's connection and transaction: not ours to close.
    """
    from django.db import close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


class ConsumerHostStep(bootsteps.StartStopStep):
    """Runs the Kafka consumer loops in a child process of the worker; a warm shutdown finishes the batch in hand.

    The child (``eda_console.consumer_process``) has its own interpreter lock, so
    the loops never slow this process's dispatch of tasks to the pool.
    """

    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        if not settings.CONSUMER_HOST_ENABLED:
            logger.info("consumer host disabled (CONSUMER_HOST_ENABLED is off)")
            return
        from eda_console.consumer_process import consumer_process_start

        self.process = consumer_process_start(stop_timeout=_WARM_STOP_SECONDS)

    def stop(self, parent: Any) -> None:
        self._host_stop(timeout=_WARM_STOP_SECONDS + 5.0)

    def terminate(self, parent: Any) -> None:
        # Cold shutdown: still commit what was applied, but do not wait long.
        self._host_stop(timeout=5.0)

    def _host_stop(self, *, timeout: float) -> None:
        if self.process is None:
            return
        from eda_console.consumer_process import consumer_process_stop

        consumer_process_stop(self.process, timeout=timeout)
        self.process = None


app.steps["worker"].add(ConsumerHostStep)
