"""The live stream's browser figures: the whole stack running, measured in Chromium.

Started here on the bench database (seeded by ``bench.console``; ``python -m bench.console_live``
runs these figures alone, in ``eda_bench_console_live``): a Tansu broker,
daphne, the Celery worker (consumer host) and the relay, whose checkpoint is set to the
head so it publishes only what the bench appends. Chromium (Debian's) logs in and opens
the live stream; a MutationObserver stamps when each stream's first row is shown and a
PerformanceObserver records long tasks.

- append -> shown at 200 events/s: wall clock after the append's commit to the row in
  the DOM (same machine, same clock), p95; reference: the same measure with rows pushed
  straight into the channel layer, which leaves the relay, Kafka and the worker out;
- longest main-thread task at 1,000 events/s (appends of 10 events, 100 a second);
  reference: the same page at 200 events/s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import fail, phase, stderr
from bench.figure import Figure, figure_print, figures_steady, window_medians
from eda_console.embedded import free_port, port_wait, process_stop, tansu_start
from eda_console.env import env_float

PROJECT_DIR = Path(__file__).resolve().parents[1]
SECONDS = env_float("BENCH_LIVE_SECONDS", 15)
PASSWORD = "bench-password-1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OBSERVE = """() => {
  const rows = document.getElementById('live-rows');
  window.__shown = {}; window.__long = [];
  // Rows arrive in blocks (one per animation frame): a row is shown when its block is added.
  const stamp = (node, now) => {
    const stream = node.dataset && node.dataset.stream;
    if (stream && !(stream in window.__shown)) window.__shown[stream] = now;
  };
  new MutationObserver((mutations) => {
    const now = Date.now();
    for (const mutation of mutations) for (const node of mutation.addedNodes) {
      stamp(node, now);
      if (node.children) for (const row of node.children) stamp(row, now);
    }
  }).observe(rows, {childList: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__long.push([performance.timeOrigin + e.startTime, e.duration]);
  }).observe({type: 'longtask'});
}"""
# The Long Tasks API reports only tasks over 50 ms: a third of a run with none had none longer.
LONG_TASK_MS = 50.0
WINDOWS = 3


@contextmanager
def stack(var_dir: Path) -> Iterator[str]:
    """The app processes against the bench database; yields the base URL."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User

    from apps.eventstore.store import head_position
    from apps.messaging.relay.models import RelayCheckpoint

    user, _ = User.objects.get_or_create(username="bench-operator")
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    RelayCheckpoint.objects.update_or_create(name="default", defaults={"position": head_position()})
    kafka_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.DATABASE_URL,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "EDA_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
    }
    processes: list[subprocess.Popen[bytes]] = [tansu_start(port=kafka_port, log_path=var_dir / "tansu.log")]
    commands = {
        "web": ["-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "eda_console.asgi:application"],
        "worker": ["-m", "celery", "-A", "eda_console", "worker", "-l", "warning", "--concurrency", "1"],
        "relay": ["manage.py", "run_relay"],
    }
    try:
        for name, argv in commands.items():
            with open(var_dir / f"{name}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, *argv], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        port_wait(web_port, timeout=30, process=processes[1])
        yield f"http://127.0.0.1:{web_port}"
    finally:
        for process in reversed(processes):
            process_stop(process)


def _append_paced(rate_calls: float, seconds: float, events_per_call: int, stamp: dict[str, float]) -> None:
    from apps.eventstore.store import append_to_stream
    from apps.eventstore.types import NO_STREAM, NewEvent

    data = {
        "order_id": "live",
        "customer_id": "bench",
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
    }
    line = {"order_id": "live", "sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}
    events = [NewEvent("OrderPlaced", data), *[NewEvent("OrderLineAdded", line)] * (events_per_call - 1)]
    started = time.perf_counter()
    calls = int(rate_calls * seconds)
    for index in range(calls):
        delay = started + index / rate_calls - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stream_id = f"order-live-{uuid.uuid4().hex[:12]}"
        append_to_stream(stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=events)
        stamp[stream_id] = time.time() * 1000


def _push_paced(rate: float, seconds: float, stamp: dict[str, float]) -> None:
    import datetime as dt

    from apps.console.live import live_events_push
    from apps.eventstore.types import RecordedEvent

    started = time.perf_counter()
    for index in range(int(rate * seconds)):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stream_id = f"order-push-{uuid.uuid4().hex[:12]}"
        event = RecordedEvent(
            index, stream_id, "order", 1, "OrderPlaced", 2, {"order_id": stream_id}, {}, dt.datetime.now(dt.UTC)
        )
        stamp[stream_id] = time.time() * 1000
        live_events_push([event])


def _in_thread(run: Callable[[dict[str, float]], None], stamp: dict[str, float]) -> None:
    from django.db import connection

    try:
        run(stamp)
    finally:
        connection.close()


def _p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.95))] if values else float("nan")


@dataclass
class _Run:
    """One paced run in the browser: latencies (when stamped, ms), long tasks (when started, ms), rows never shown."""

    latencies: list[tuple[float, float]]
    long_tasks: list[tuple[float, float]]
    missing: int
    skipped: int
    started: float
    ended: float

    def latency_p95(self) -> float:
        return _p95([latency for _, latency in self.latencies])

    def longest(self) -> float:
        """The longest task, or LONG_TASK_MS when none reached it (the browser reports no shorter task)."""
        return max((duration for _, duration in self.long_tasks), default=LONG_TASK_MS)

    def longest_by_window(self) -> tuple[float, ...]:
        """The longest task in each third of the run (LONG_TASK_MS for a third that had none)."""
        span = (self.ended - self.started) / WINDOWS
        longest = [LONG_TASK_MS] * WINDOWS
        for at, duration in self.long_tasks:
            window = min(max(int((at - self.started) / span), 0), WINDOWS - 1)
            longest[window] = max(longest[window], duration)
        return tuple(longest)


def _measure(page: Any, run: Callable[[dict[str, float]], None], settle: float = 3.0) -> _Run:
    """One paced run: what the browser showed and its long tasks, from the run's start to ``settle`` s after."""
    page.goto("/live/")
    page.wait_for_selector('#live-conn[data-state="open"]')
    page.evaluate(OBSERVE)
    stamp: dict[str, float] = {}
    started = time.time() * 1000
    # Playwright's sync API runs an event loop in this thread, where Django refuses to query.
    worker = threading.Thread(target=_in_thread, args=(run, stamp))
    worker.start()
    while worker.is_alive():
        page.wait_for_timeout(100)
    time.sleep(settle)
    shown: dict[str, float] = page.evaluate("window.__shown")
    long_tasks = [(float(at), float(duration)) for at, duration in page.evaluate("window.__long") or []]
    latencies = [(at, shown[stream] - at) for stream, at in stamp.items() if stream in shown]
    # Rows the page said it skipped because they came faster than it could draw them.
    skipped = int(page.evaluate("(document.getElementById('live-skipped-note') || {dataset: {}}).dataset.rows || 0"))
    return _Run(latencies, long_tasks, len(stamp) - len(latencies), skipped, started, time.time() * 1000)


def _figure_shown(page: Any) -> Figure:
    """Append -> shown p95 at 200 events/s, beside a push straight into the channel layer -> shown."""
    with phase(f"200 events/s for {SECONDS:.0f} s, pushed then appended", 2) as advance:
        pushed = _measure(page, lambda stamp: _push_paced(200, SECONDS, stamp))
        advance(1)
        appended = _measure(page, lambda stamp: _append_paced(200, SECONDS, 1, stamp))
        advance(1)
    if appended.missing:
        stderr.print(f"bench: {appended.missing} of the appended events never showed in the browser")
    return Figure(
        "live stream append -> shown p95 at 200 events/s",
        appended.latency_p95(),
        "ms",
        "channel-layer push -> shown",
        pushed.latency_p95(),
        "<= 300 ms",
        reference_rounds=window_medians(pushed.latencies, WINDOWS),
    )


def _figure_longest_task(page: Any) -> Figure:
    """The longest main-thread task at 1,000 events/s (appends of 10), beside the same page at 200 events/s."""
    with phase(f"200 then 1,000 events/s for {SECONDS:.0f} s each", 2) as advance:
        at_200 = _measure(page, lambda stamp: _append_paced(200, SECONDS, 1, stamp))
        advance(1)
        at_1000 = _measure(page, lambda stamp: _append_paced(100, SECONDS, 10, stamp))
        advance(1)
    stderr.print(
        f"bench: long tasks at 1,000 events/s: {len(at_1000.long_tasks)},"
        f" {sum(duration for _, duration in at_1000.long_tasks):.0f} ms in all;"
        f" at 200 events/s: {len(at_200.long_tasks)}; rows the page skipped (said on screen): {at_1000.skipped:,}"
        f" of {SECONDS * 1000:,.0f} at 1,000 events/s, {at_200.skipped:,} at 200 events/s",
        highlight=False,
        soft_wrap=True,
    )
    return Figure(
        "live stream longest main-thread task at 1,000 events/s",
        at_1000.longest(),
        "ms",
        "at 200 events/s",
        at_200.longest(),
        "< 200 ms",
        reference_rounds=at_200.longest_by_window(),
    )


def live_figures() -> None:
    from playwright.sync_api import sync_playwright

    var_dir = Path(os.environ.get("EDA_VAR_DIR", "/tmp/eda_bench")) / "console-live"
    var_dir.mkdir(parents=True, exist_ok=True)
    with stack(var_dir) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860}).new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", "bench-operator")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        with phase("waiting for the pipeline (consumer groups join)", 1) as advance:
            deadline = time.monotonic() + 90
            while not _measure(page, lambda stamp: _append_paced(5, 1, 1, stamp)).latencies:
                if time.monotonic() > deadline:
                    fail(f"no appended event reached the browser in 90 s; logs in {var_dir}")
            advance(1)
        for figure in figures_steady(lambda: [_figure_shown(page)]):
            figure_print(figure)
        for figure in figures_steady(lambda: [_figure_longest_task(page)]):
            figure_print(figure)
        browser.close()


DATABASE = "eda_bench_console_live"


def main() -> None:
    """The live stream's figures alone, in a database of their own (the page needs no seeded history)."""
    from bench.console import database_alone

    database_alone(DATABASE)
    live_figures()


if __name__ == "__main__":
    main()
