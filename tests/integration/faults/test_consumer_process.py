"""The worker's consumer process: started again when it dies, gone when the worker dies, refused when misconfigured."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil
import pytest

from apps.messaging.heartbeat import consumer_heartbeat_list
from tests.integration.faults.catch_up import consumer_groups, consumers_joined_wait
from tests.support.stack import PipelineStack, wait_for


def _consumer_processes(worker_pid: int) -> list[psutil.Process]:
    """The worker's live consumer processes (a zombie is not alive)."""
    found = []
    for child in psutil.Process(worker_pid).children():
        # A killed child is a zombie until its worker reaps it; a zombie has no command line.
        with contextlib.suppress(psutil.ZombieProcess, psutil.NoSuchProcess):
            if child.status() != psutil.STATUS_ZOMBIE and "eda_console.consumer_process" in " ".join(child.cmdline()):
                found.append(child)
    return found


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_consumer_process_that_dies_is_started_again_and_its_groups_rejoin(stack: PipelineStack) -> None:
    stack.start("worker")
    consumers_joined_wait(stack)
    worker = stack.pid("worker")
    (first,) = _consumer_processes(worker)

    killed_at = time.time()
    os.kill(first.pid, signal.SIGKILL)
    replaced = wait_for(
        lambda: [p for p in _consumer_processes(worker) if p.pid != first.pid],
        timeout=60,
        message=lambda: f"no new consumer process\n{stack.log_tail()}",
    )

    def rejoined() -> bool:
        # Every hosted group beats again from the new process, under the worker's pid, with partitions.
        fresh = {
            beat["group_id"]
            for beat in consumer_heartbeat_list()
            if f":{worker}:" in beat["member"] and beat["started_at"] > killed_at and beat["partitions"]
        }
        return fresh == set(consumer_groups())

    wait_for(rejoined, timeout=90, message=lambda: f"the groups did not rejoin\n{stack.log_tail()}")
    assert len(replaced) == 1 and stack.alive("worker")
    assert "exited with code -9; starting it again" in stack.log_tail(lines=400)


def test_a_worker_killed_alone_takes_its_consumer_process_with_it(stack: PipelineStack) -> None:
    stack.start("worker")
    consumers_joined_wait(stack)
    (child,) = _consumer_processes(stack.pid("worker"))

    # Only the worker, not its process group: the child must not outlive it.
    os.kill(stack.pid("worker"), signal.SIGKILL)

    wait_for(lambda: _gone(child.pid), timeout=15, message="the consumer process outlived its worker")


@pytest.mark.parametrize("setting", ["CONSUMER_GROUPS", "KAFKA_CONSUMER_BACKGROUND_GROUPS"])
def test_a_mistyped_consumer_group_stops_the_worker_at_start(stack: PipelineStack, setting: str) -> None:
    process = stack.start("worker", env={setting: "projection.order_summary,saga.orders"})

    code = process.popen.wait(timeout=90)

    assert code != 0
    log = stack.log_tail(lines=400)
    assert f"{setting}: unknown consumer group(s) saga.orders; registered:" in log
