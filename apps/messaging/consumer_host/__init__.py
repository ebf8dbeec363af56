"""The consumer host: one thread per registered :class:`ConsumerSpec`, in a process of the Celery worker.

The worker's bootstep (``eda_console.celery``) starts it in a child process of its own
(``eda_console.consumer_process``) and stops it; tests run it in-process the same way.
Offsets are committed only after the handlers returned, so a killed worker re-reads
from its last commit and loses nothing. A consumer that registers ``stream_cursors``
gets each stream in version order from the store, whatever order Kafka delivered
(``ordering``); ``apply`` hands the batch to the handlers and the dead letters.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from django.conf import settings

from apps.messaging.consumer_host.loop import ConsumerLoop, consumer_create
from apps.messaging.dead_letters.fault_injection import failure_rules_wrap
from apps.messaging.registry import ConsumerSpec, consumer_specs_selected
from apps.messaging.topics import topics_ensure

__all__ = ["ConsumerHost", "ConsumerLoop", "consumer_create"]

logger = logging.getLogger(__name__)


class ConsumerHost:
    """Starts and stops the consumer threads of one process."""

    def __init__(self, specs: Sequence[ConsumerSpec] | None = None, *, member_pid: int | None = None) -> None:
        self.specs = list(specs) if specs is not None else None
        # The pid the heartbeats name: the worker's, when the host runs in the worker's child process.
        self.member_pid = member_pid
        self.stop_event = threading.Event()
        self.loops: list[ConsumerLoop] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per spec (unless given: the registered ones ``CONSUMER_GROUPS`` selects); returns at once.

        Each loop runs the spec's handlers wrapped in the failure rules (fault injection).
        """
        specs = self.specs if self.specs is not None else consumer_specs_selected(settings.CONSUMER_GROUPS)
        try:
            topics_ensure()
        except Exception as exc:
            # The loops retry on their own until the broker is back.
            logger.warning("consumer host: could not check the topics: %s", exc)
        for index, spec in enumerate(specs):
            loop = ConsumerLoop(failure_rules_wrap(spec), stop=self.stop_event, index=index, member_pid=self.member_pid)
            thread = threading.Thread(target=loop.run, name=f"consumer:{spec.group_id}", daemon=True)
            self.loops.append(loop)
            self.threads.append(thread)
            thread.start()
        logger.info("consumer host: started %s", ", ".join(spec.group_id for spec in specs) or "no consumers")

    def stop(self, *, timeout: float = 30.0) -> None:
        """Warm stop: each thread finishes and commits its batch in hand, then leaves its group."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("consumer host: %s did not stop within %.0fs", thread.name, timeout)
        self.threads.clear()
        self.loops.clear()
        logger.info("consumer host: stopped")
