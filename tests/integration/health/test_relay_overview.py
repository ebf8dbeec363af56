"""The overview's relay health names the active relay and the relays standing by."""

from __future__ import annotations

import time

import pytest

from apps.console.selectors.health import relay_health
from apps.eventstore.store import head_position
from apps.messaging.heartbeat import RelayHeartbeat, relay_heartbeat_record

pytestmark = pytest.mark.django_db


def relay_beat(member: str, *, role: str, status: str = "running", age: float = 0.0) -> None:
    beat: RelayHeartbeat = {
        "name": "default",
        "member": member,
        "status": status,
        "role": role,
        "started_at": time.time() - 100,
        "updated_at": time.time() - age,
        "position": 0,
        "head_position": 0,
        "published": 0,
        "last_batch_size": 0,
        "last_batch_ms": 0.0,
    }
    relay_heartbeat_record(beat)


def test_the_overview_names_the_active_relay_and_each_standby() -> None:
    relay_beat("relay-1:7", role="active")
    relay_beat("relay-2:7", role="standby")
    relay_beat("relay-3:7", role="standby", age=1)

    check = relay_health()

    assert check.ok is True
    assert check.detail.startswith(f"active relay-1:7 · position 0 of head {head_position():,}")
    assert check.detail.endswith("standing by: relay-2:7, relay-3:7")


def test_a_killed_leader_whose_beat_lingers_is_listed_as_silent_behind_the_one_that_took_over() -> None:
    relay_beat("relay-1:7", role="active", age=12)
    relay_beat("relay-2:7", role="active")

    check = relay_health()

    assert check.ok is True
    assert check.detail.startswith("active relay-2:7 ")
    assert "standing by: none · silent: relay-1:7 (12 s)" in check.detail


def test_standbys_without_an_active_relay_are_a_failing_check() -> None:
    relay_beat("relay-2:7", role="standby")
    relay_beat("relay-1:7", role="active", status="stopped")

    check = relay_health()

    assert check.ok is False
    assert check.detail.startswith("no active relay · standing by: relay-2:7")
