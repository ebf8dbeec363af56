"""The consumer host's own process, a child of the Celery worker: ``python -m eda_console.consumer_process``.

Why a process and not threads in the worker: the worker's main process dispatches tasks
to its pool, and seven consumer loops with their Kafka network threads beside it, under
one interpreter lock, starved that dispatch: step tasks waited seconds in the queue while
the pool sat idle (measured with py-spy on ``bench/sagas.py``). In a process of its own
the host has an interpreter lock to itself and the worker dispatches at once.

The child is tied to the worker's life: SIGTERM (or SIGINT) is a warm stop (each loop
finishes and commits its batch in hand); the worker's death kills it (Linux's parent-death
signal, and a watch on the parent pid elsewhere), so a killed worker never leaves a
consumer running. Its heartbeats name the worker's pid, as threads in the worker did.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from types import FrameType

logger = logging.getLogger(__name__)

MEMBER_PID_ENV = "EDA_CONSUMER_HOST_MEMBER_PID"
STOP_TIMEOUT_ENV = "EDA_CONSUMER_HOST_STOP_SECONDS"
_PR_SET_PDEATHSIG = 1
_PARENT_CHECK_SECONDS = 1.0


def consumer_process_start(*, stop_timeout: float) -> subprocess.Popen[bytes]:
    """Start the host's process for this worker; its output goes where the worker's goes."""
    env = {**os.environ, MEMBER_PID_ENV: str(os.getpid()), STOP_TIMEOUT_ENV: str(stop_timeout)}
    return subprocess.Popen([sys.executable, "-m", __name__], env=env)  # noqa: S603 (our own module)


def consumer_process_stop(process: subprocess.Popen[bytes], *, timeout: float) -> int | None:
    """Ask for a warm stop and wait ``timeout`` seconds; then kill it. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("consumer host process %d did not stop within %.0fs: killed", process.pid, timeout)
            process.kill()
            process.wait()
    return process.returncode


def _parent_death_signal() -> None:
    """Have the kernel send SIGKILL when the worker dies (Linux); elsewhere the parent watch does it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> int:
    parent = os.getppid()
    _parent_death_signal()
    if os.getppid() != parent:  # the worker died before the signal was armed
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
    host = ConsumerHost(member_pid=int(os.environ.get(MEMBER_PID_ENV) or parent))
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
