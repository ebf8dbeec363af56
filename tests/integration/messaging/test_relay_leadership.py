"""One relay publishes per name: the holder of the lease; the others stand by and take over when it goes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
from django.db import connection

from apps.eventstore.store import head_position
from apps.messaging.heartbeat import RelayHeartbeat, relay_heartbeat_list
from apps.messaging.relay.checkpoint import relay_checkpoint_get
from apps.messaging.relay.leadership import AdvisoryLockLease, relay_lease_holder_pid
from apps.messaging.relay.loop import Relay, RelayNotLeader
from tests.integration.messaging.conftest import orders_append
from tests.support.broker import KafkaSetup, topic_read
from tests.support.stack import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough for a standby to try the lease several times (every half second) and be refused.
STANDBY_PROOF_SECONDS = 2.5


@pytest.fixture
def other_leader() -> Iterator[AdvisoryLockLease]:
    """The lease of relay ``t`` as another relay process would hold it: a session of its own."""
    lease = AdvisoryLockLease(name="t", using="default")
    yield lease
    lease.release()


@pytest.fixture
def running_relay() -> Iterator[Relay]:
    stop = threading.Event()
    relay = Relay(name="t", stop=stop)
    thread = threading.Thread(target=relay.run, name="relay-t")
    thread.start()
    yield relay
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def beat_of(relay: Relay) -> RelayHeartbeat | None:
    return next((beat for beat in relay_heartbeat_list(name="t") if beat["member"] == relay._beat["member"]), None)


def standing_by_for(relay: Relay, seconds: float) -> bool:
    """The relay beats as a standby and has done so for ``seconds`` (measured on its own beats)."""
    beat = beat_of(relay)
    if beat is None or beat["role"] != "standby" or beat["status"] != "running":
        return False
    first = relay.__dict__.setdefault("_test_standby_since", beat["updated_at"])
    return bool(beat["updated_at"] - first >= seconds)


def positions_in_topic(kafka: KafkaSetup, *, count: int) -> list[int]:
    records = topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=count) if count else []
    return sorted(orjson.loads(record.value)["position"] for record in records)


def test_a_standby_publishes_nothing_while_the_leader_holds_the_lease_then_takes_over_from_the_checkpoint(
    kafka: KafkaSetup, other_leader: AdvisoryLockLease
) -> None:
    orders_append(streams=5, lines_per_order=1)
    assert other_leader.acquire()

    relay = Relay(name="t", stop=threading.Event())
    thread = threading.Thread(target=relay.run, name="relay-t")
    thread.start()
    try:
        wait_for(lambda: standing_by_for(relay, STANDBY_PROOF_SECONDS), timeout=30, message="never stood by")

        assert relay_checkpoint_get(name="t") == 0
        assert topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic) == []

        other_leader.release()
        wait_for(lambda: relay_checkpoint_get(name="t") == head_position(), timeout=15, message="no take-over")
        beat = wait_for(lambda: (b := beat_of(relay)) and b["role"] == "active" and b, timeout=5, message="role")
        assert beat["member"] == relay._beat["member"]
    finally:
        relay.stop.set()
        thread.join(30)
    assert positions_in_topic(kafka, count=10) == list(range(head_position() - 9, head_position() + 1))


def test_a_leader_that_loses_its_database_session_stops_publishing_and_stands_by(
    kafka: KafkaSetup, other_leader: AdvisoryLockLease, running_relay: Relay
) -> None:
    orders_append(streams=4, lines_per_order=0)
    wait_for(lambda: relay_checkpoint_get(name="t") == head_position(), timeout=30, message="first publish")
    published = relay_checkpoint_get(name="t")

    holder = relay_lease_holder_pid(name="t")
    assert holder is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [holder])
    # Another relay takes the freed lock at once, before the old leader could notice anything.
    wait_for(other_leader.acquire, timeout=10, message="the lock was not freed with the session")
    orders_append(streams=3, lines_per_order=0)

    wait_for(lambda: standing_by_for(running_relay, STANDBY_PROOF_SECONDS), timeout=30, message="kept leading")
    assert relay_checkpoint_get(name="t") == published
    assert len(positions_in_topic(kafka, count=4)) == 4

    other_leader.release()
    wait_for(lambda: relay_checkpoint_get(name="t") == head_position(), timeout=15, message="did not lead again")
    assert len(positions_in_topic(kafka, count=7)) == 7


def test_publishing_the_backlog_once_is_refused_while_another_relay_holds_the_lease(
    kafka: KafkaSetup, other_leader: AdvisoryLockLease
) -> None:
    orders_append(streams=2, lines_per_order=0)
    assert other_leader.acquire()
    relay = Relay(name="t")
    try:
        with pytest.raises(RelayNotLeader, match="another relay holds the lease"):
            relay.run_once()
    finally:
        relay.close()
    assert relay_checkpoint_get(name="t") == 0
