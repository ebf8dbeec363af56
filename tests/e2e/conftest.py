"""The running stack for browser tests, started and stopped by the tests themselves.

A fresh PostgreSQL database ``eda_e2e`` (migrated), a Tansu broker on a free port, daphne
on a free port, and, when their code exists, the Celery worker, Celery beat (the lag
sampler) and the relay, all with the same environment. Chromium is Debian's, driven by
Playwright's Python package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from eda_console.embedded import free_port, port_wait, process_stop, tansu_start
from tests.e2e.accessibility import assert_accessible

PROJECT_DIR = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).parent / "screenshots"
E2E_DATABASE = os.environ.get("E2E_DATABASE", "eda_e2e")
ADMIN_DSN = os.environ.get("E2E_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/8")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = {"olga": "operator", "victor": "viewer"}
PASSWORD = "e2e-password-1"
WARM_UP_ORDER = {
    "customer_id": "warm-up",
    "currency": "EUR",
    "lines": [{"sku": "SKU-0", "quantity": 1, "unit_price_cents": 1}],
}


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    var_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    token: str = ""

    def log(self, name: str) -> str:
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def api(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


def _database_recreate() -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [E2E_DATABASE],
        )
        connection.execute(f'DROP DATABASE IF EXISTS "{E2E_DATABASE}"')
        connection.execute(f'CREATE DATABASE "{E2E_DATABASE}"')
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + E2E_DATABASE


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _start(stack: Stack, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    with open(stack.var_dir / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv, cwd=PROJECT_DIR, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack.processes[name] = process
    return process


def _users_create(env: dict[str, str]) -> None:
    script = (
        "from django.contrib.auth.models import Group, User\n"
        f"for name, role in {USERS!r}.items():\n"
        "    user = User.objects.create_user(username=name, password=" + repr(PASSWORD) + ")\n"
        "    user.groups.add(Group.objects.get(name=role))\n"
    )
    _manage(env, "shell", "-c", script)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("e2e-stack")
    kafka_port, web_port = free_port(), free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))},
        "DJANGO_SETTINGS_MODULE": "eda_console.settings",
        "DATABASE_URL": _database_recreate(),
        "REDIS_URL": REDIS_URL,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "EDA_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        # The pages are checked against traffic the tests make: no simulator.
        "SIMULATOR_ENABLED": "false",
        # A payment that never answers gets the saga stuck within seconds, not minutes.
        "SAGA_STEP_TIMEOUT_SECONDS": "2",
        "SAGA_STEP_MAX_ATTEMPTS": "2",
        "SAGA_RETRY_BACKOFF_SECONDS": "0.5",
    }
    stack = Stack(base_url=f"http://127.0.0.1:{web_port}", env=env, var_dir=var_dir)
    broker = tansu_start(port=kafka_port, log_path=var_dir / "tansu.log")
    try:
        _manage(env, "migrate", "--no-input")
        _users_create(env)
        stack.token = _manage(env, "create_api_token", "olga").strip().splitlines()[-1]
        web = _start(
            stack,
            "web",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "eda_console.asgi:application"],
        )
        _start(stack, "relay", [sys.executable, "manage.py", "run_relay"])
        _start(
            stack,
            "worker",
            [sys.executable, "-m", "celery", "-A", "eda_console", "worker", "-l", "info", "--concurrency", "2"],
        )
        _start(
            stack,
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "eda_console",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(var_dir / "celerybeat-schedule"),
            ],
        )
        port_wait(web_port, timeout=30, process=web)
        yield stack
    finally:
        for process in reversed(list(stack.processes.values())):
            process_stop(process)
        process_stop(broker)


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    # Module scope: Playwright's sync API keeps an event loop running on the main thread
    # while it is open, and Django refuses ORM calls from a thread with a running loop,
    # so it must be closed before the next module's tests run.
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def pipeline_ready(stack: Stack, browser: Browser) -> Stack:
    """Wait until an order placed through the API reaches a browser's live stream.

    Kafka consumer groups need a few seconds to join after the worker starts; the latency
    test must measure the pipeline, not the join.
    """
    context = _context(browser, stack)
    page = context.new_page()
    log_in(page, "olga")
    page.goto("/live/")
    page.wait_for_selector('#live-conn[data-state="open"]')
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            placed = stack.api("POST", "/api/orders", WARM_UP_ORDER)
            try:
                page.wait_for_selector(f'#live-rows .lrow[data-stream="{placed["stream_id"]}"]', timeout=3_000)
                return stack
            except PlaywrightTimeoutError:
                continue
        logs = "\n".join(f"--- {name}\n{stack.log(name)}" for name in ("worker", "relay", "web"))
        raise AssertionError(f"no event reached the live stream in 90 s\n{logs}")
    finally:
        context.close()


def _context(browser: Browser, stack: Stack) -> BrowserContext:
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 860})
    # Generous: the machine may be busy with other suites; the latency test has its own 2 s bound.
    context.set_default_timeout(20_000)
    context.set_default_navigation_timeout(30_000)
    return context


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@dataclass
class Watched:
    """A page whose dialogs, page errors and CSP violations the test can assert on."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Confirm dialogs (hx-confirm) are dismissed unless a test says it answers yes.
    accept_dialogs: bool = False


def _watched(context: BrowserContext) -> Watched:
    page = context.new_page()
    watched = Watched(page=page)

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        if watched.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            watched.errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    return watched


@pytest.fixture
def operator_page(browser: Browser, pipeline_ready: Stack) -> Iterator[Watched]:
    stack = pipeline_ready
    context = _context(browser, stack)
    watched = _watched(context)
    log_in(watched.page, "olga")
    yield watched
    context.close()


@pytest.fixture
def viewer_page(browser: Browser, pipeline_ready: Stack) -> Iterator[Watched]:
    stack = pipeline_ready
    context = _context(browser, stack)
    watched = _watched(context)
    log_in(watched.page, "victor")
    yield watched
    context.close()


@pytest.fixture
def anonymous_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = _context(browser, stack)
    yield context.new_page()
    context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture
def axe_check() -> Callable[[Page], None]:
    """``axe_check(page)``: fail on a serious or critical axe-core violation on the open page."""
    return assert_accessible
