"""The Celery app ``eda_console``: tasks, beat, and the Kafka consumer host inside the worker.

Broker and result backend are ``settings.REDIS_URL``; every ``CELERY_*`` setting applies
(beat entries live in ``CELERY_BEAT_SCHEDULE``). ``celery -A eda_console worker`` starts
one consumer thread per consumer group it hosts (``apps.messaging.registry``,
``CONSUMER_GROUPS``) in a child process, through the :class:`ConsumerHostStep` bootstep,
unless ``CONSUMER_HOST_ENABLED`` is off.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import TYPE_CHECKING, Any

from celery import Celery, bootsteps
from celery.signals import task_prerun, worker_process_init, worker_ready
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from eda_console.consumer_process import ConsumerProcess

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")

logger = logging.getLogger(__name__)
# A warm stop lets each consumer loop finish and commit its batch in hand for this long.
_WARM_STOP_SECONDS = 60.0

app = Celery("eda_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def _start_up_freeze(**_kwargs: Any) -> None:
    """Keep what start-up loaded (Django, the apps, the tasks) out of the cyclic collector's full walks.

    It lives as long as the process; the worker and each pool process (after its fork) freeze
    it once, as the relay and the consumer process do.
    """
    gc.freeze()


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

    # After the pool, as when the loops were threads here: the pool's processes are up first.
    requires = {"celery.worker.components:Pool"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.host: ConsumerProcess | None = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        if not settings.CONSUMER_HOST_ENABLED:
            logger.info("consumer host disabled (CONSUMER_HOST_ENABLED is off)")
            return
        from apps.messaging.registry import consumer_specs_selected
        from eda_console.consumer_process import ConsumerProcess

        for setting in ("CONSUMER_GROUPS", "KAFKA_CONSUMER_BACKGROUND_GROUPS"):
            try:
                consumer_specs_selected(getattr(settings, setting))
            except ValueError as exc:
                # A mistyped name stops the worker here, not a child process it would go on without.
                raise ImproperlyConfigured(f"{setting}: {exc}") from None
        self.host = ConsumerProcess(stop_timeout=_WARM_STOP_SECONDS)
        self.host.start()

    def stop(self, parent: Any) -> None:
        self._host_stop(timeout=_WARM_STOP_SECONDS + 5.0)

    def terminate(self, parent: Any) -> None:
        # Cold shutdown: still commit what was applied, but do not wait long.
        self._host_stop(timeout=5.0)

    def _host_stop(self, *, timeout: float) -> None:
        if self.host is None:
            return
        self.host.stop(timeout=timeout)
        self.host = None


app.steps["worker"].add(ConsumerHostStep)
