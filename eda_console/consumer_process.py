"""The consumer host's own process, a child of the Celery worker: ``python -m eda_console.consumer_process``.

Why a process and not threads in the worker: the worker's main process dispatches tasks
to its pool, and seven consumer loops with their Kafka network threads beside it shared
its one interpreter lock (py-spy on ``bench/sagas.py``: the loops held most of it). In a
process of its own the host has an interpreter lock to itself, and the worker's dispatch
does not wait behind it.

The child is tied to the worker's life: SIGTERM (or SIGINT) is a warm stop (each loop
finishes and commits its batch in hand); the worker's death kills it (Linux's parent-death
signal, and a watch on the parent pid elsewhere), so a killed worker never leaves a
consumer running; the child's death is seen by the worker, which starts it again
(:class:`ConsumerProcess`). Its heartbeats name the worker's pid, as threads in the worker
did. It logs as the worker's processes do, through Django's ``LOGGING`` to the worker's
standard output and error (not to a ``celery --logfile``).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

logger = logging.getLogger(__name__)

MEMBER_PID_ENV = "EDA_CONSUMER_HOST_MEMBER_PID"
STOP_TIMEOUT_ENV = "EDA_CONSUMER_HOST_STOP_SECONDS"
_PR_SET_PDEATHSIG = 1
_PARENT_CHECK_SECONDS = 1.0


# Waits before starting a consumer process again after it died on its own (then the last one).
_RESTART_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
_HEALTHY_RUN_SECONDS = 60.0


class ConsumerProcess:
    """The worker's side: starts the host's process, starts it again if it dies, stops it warm.

    A consumer process that exits while the worker runs (a crash, the OOM killer) is logged
    as an error and started again after a backoff, as Celery replaces a dead pool process,
    so a worker never keeps running tasks with no consumers behind it.
    """

    def __init__(self, *, stop_timeout: float) -> None:
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Start the process and its watch; returns at once."""
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="consumer-process-watch", daemon=True)
        self._watcher.start()

    def stop(self, *, timeout: float) -> int | None:
        """Ask for a warm stop, wait ``timeout`` seconds, then kill; returns the exit code."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("consumer host process %d did not stop within %.0fs: killed", process.pid, timeout)
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(5.0)
        return process.returncode

    def _spawn(self) -> None:
        env = {**os.environ, MEMBER_PID_ENV: str(os.getpid()), STOP_TIMEOUT_ENV: str(self.stop_timeout)}
        with self._lock:
            if self._stopping.is_set():
                return
            self.process = subprocess.Popen([sys.executable, "-m", __name__], env=env)  # noqa: S603 (our own module)
        logger.info("consumer host process %d started", self.process.pid)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            if process is None:
                return
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > _HEALTHY_RUN_SECONDS:
                self.restarts = 0  # a process that ran a while earns a quick restart again
            wait = _RESTART_BACKOFF_SECONDS[min(self.restarts, len(_RESTART_BACKOFF_SECONDS) - 1)]
            logger.error(
                "consumer host process %d exited with code %s; starting it again in %.0fs", process.pid, code, wait
            )
            self.restarts += 1
            if self._stopping.wait(wait):
                return
            self._spawn()


def _parent_death_signal() -> None:
    """Have the kernel send SIGKILL when the worker dies (Linux); elsewhere the parent watch does it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning(
                "consumer host: prctl(PR_SET_PDEATHSIG) failed (errno %d); the parent watch remains", ctypes.get_errno()
            )
    except (OSError, AttributeError):
        pass


def main() -> int:
    # The worker's pid from the worker itself: read from getppid() here, a worker that died
    # before this line would make init our "parent" and the watch below blind.
    parent = int(os.environ[MEMBER_PID_ENV])
    _parent_death_signal()
    if os.getppid() != parent:  # the worker is already gone
        return 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")
    import django

    django.setup()
    from apps.messaging.consumer_host import ConsumerHost
    from apps.messaging.producer import shared_producers_close

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Start-up's objects live as long as the process: kept out of the collector's full walks.
    gc.freeze()
    host = ConsumerHost(member_pid=parent)
    host.start()
    while not stop.wait(_PARENT_CHECK_SECONDS):
        if os.getppid() != parent:
            logger.warning("consumer host: the worker (pid %d) is gone; stopping", parent)
            break
    host.stop(timeout=float(os.environ.get(STOP_TIMEOUT_ENV) or 60.0))
    shared_producers_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
