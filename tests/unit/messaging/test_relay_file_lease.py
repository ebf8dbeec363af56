"""On SQLite the relay's lease is a file lock: one relay per database on the machine, the next one waits."""

from __future__ import annotations

from pathlib import Path

from apps.messaging.relay.leadership import FileLockLease


def test_a_second_relay_cannot_take_the_file_lease_until_the_first_gives_it_up(tmp_path: Path) -> None:
    path = tmp_path / "eda.sqlite3.relay-default.lock"
    first, second = FileLockLease(path=path), FileLockLease(path=path)

    assert first.acquire()
    assert not second.acquire()
    assert first.confirm() and not second.held

    first.release()

    assert second.acquire()
    assert not first.acquire()
    second.release()
