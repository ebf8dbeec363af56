"""Writer and reader threads for the concurrency tests: each thread has its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


class DatabaseThread(threading.Thread):
    """Runs ``target`` on its own connection, closes it afterwards and keeps any exception for ``join_ok``."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # reported by join_ok in the test's thread
            self.error = exc
        finally:
            connections.close_all()

    def join_ok(self, timeout: float = 30) -> Any:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} did not finish within {timeout}s"
        if self.error is not None:
            raise AssertionError(f"{self.name} failed: {self.error!r}") from self.error
        return self.result
