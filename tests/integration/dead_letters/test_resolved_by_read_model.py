"""Dead letters stay consistent with the read model: a rebuild or a replay that applies their event resolves them.

A failure rule makes the order_summary consumer dead-letter a VIP order's first event and
park its confirmation behind it; the rule is switched off, then the read model is
rebuilt from the store (or the dead letter replayed). Afterwards no dead letter of the
group waits for an event the read model holds, whatever parked behind them is released in
order, the overview's count and the projection's status say what the table says, and the
read model equals a rebuild of it.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection, transaction

from apps.console.selectors.pipeline import dead_letters_waiting
from apps.eventstore.store import append_to_stream, global_log_read
from apps.eventstore.types import NewEvent, RecordedEvent
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterStatus,
    dead_letter_replay,
    failure_rule_create,
    failure_rule_disable,
)
from apps.messaging.dead_letters.by_rebuild import dead_letter_orphaned_chains_release, dead_letter_resolve_rebuilt
from apps.messaging.dead_letters.chain import parked_streams_forget
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.messaging.dead_letters.selectors import dead_letter_status_counts
from apps.messaging.registry import consumer_spec
from apps.projections.live import consumer_group_for, projection_batch_handle
from apps.projections.models import OrderSummary, ProjectionRebuild
from apps.projections.rebuild import projection_rebuild_request, projection_rebuild_run
from apps.projections.selectors import projection_digest, projection_status_list
from tests.integration.dead_letters.conftest import host_deliver, order_stream
from tests.support.broker import KafkaSetup

NAME = "order_summary"
GROUP = consumer_group_for(NAME)
WAIT_SECONDS = 20


@pytest.fixture
def op(db: None) -> User:
    # get_or_create: in a transactional test the roles the migrations made may be flushed already.
    user = User.objects.create_user(username="oscar", password="pw-oscar")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    return user


def vip_order_dead_lettered(operator: User) -> tuple[list[RecordedEvent], list[RecordedEvent]]:
    """A VIP order whose placement the consumer dead-letters and whose confirmation parks behind it."""
    parked_streams_forget(GROUP)
    failure_rules_forget()
    rule = failure_rule_create(actor=operator, group_id=GROUP, kind="field_regex", pattern="^vip-")
    vip = order_stream(customer_id="vip-7", confirmations=1)
    regular = order_stream(customer_id="cust-7", confirmations=1)
    host_deliver(consumer_spec(GROUP), vip + regular, attempts=1, group_id=GROUP)
    assert list(DeadLetter.objects.filter(group_id=GROUP).order_by("position").values_list("position", "status")) == [
        (vip[0].position, "parked"),
        (vip[1].position, "parked"),
    ]
    assert dead_letters_waiting() == 2
    status = next(status for status in projection_status_list() if status.name == NAME)
    assert (status.status, status.dead_letters_parked) == ("blocked", 2)
    failure_rule_disable(rule_id=rule.pk, actor=operator)
    return vip, regular


def confirmation_append(stream_id: str, *, version: int) -> RecordedEvent:
    order_id = stream_id.removeprefix("order-")
    result = append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=version,
        events=[NewEvent("OrderConfirmed", {"order_id": order_id})],
    )
    return global_log_read(after=result.first_position - 1, limit=1)[0]


def rebuild() -> ProjectionRebuild:
    job = projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
    return projection_rebuild_run(job_id=job.id)


def assert_consistent(vip: list[RecordedEvent]) -> None:
    """Nothing waits, the overview and the projection's status agree, and the model equals its rebuild."""
    assert dead_letter_status_counts(group_id=GROUP)["parked"] == 0
    assert dead_letters_waiting() == 0
    status = next(status for status in projection_status_list() if status.name == NAME)
    assert (status.status, status.lag_positions, status.dead_letters_parked) == ("ok", 0, 0)
    row = OrderSummary.objects.get(order_id=vip[0].data["order_id"])
    assert (row.customer_id, row.status, row.last_position) == ("vip-7", "confirmed", vip[-1].position)
    live = projection_digest(name=NAME)
    assert rebuild().status == "done"
    assert projection_digest(name=NAME) == live


def test_a_replay_resolves_the_dead_letter_and_releases_what_parked_behind_it_in_order(op: User) -> None:
    vip, _ = vip_order_dead_lettered(op)
    head = DeadLetter.objects.get(group_id=GROUP, position=vip[0].position)

    result = dead_letter_replay(dead_letter_id=head.pk, actor=op)

    follower = DeadLetter.objects.get(group_id=GROUP, position=vip[1].position)
    assert (result.outcome, result.released) == ("replayed", (follower.pk,))
    head.refresh_from_db()
    assert (head.status, follower.status) == ("replayed", "replayed")
    assert head.resolved_at is not None and follower.resolved_at is not None
    assert head.resolved_at <= follower.resolved_at
    assert_consistent(vip)


def test_a_rebuild_resolves_the_dead_letters_of_the_events_it_applied(op: User) -> None:
    vip, _ = vip_order_dead_lettered(op)

    job = rebuild()

    assert job.status == "done", job.error
    resolved = DeadLetter.objects.filter(group_id=GROUP).order_by("position")
    assert [(dl.position, dl.status, dl.resolved_by) for dl in resolved] == [
        (vip[0].position, DeadLetterStatus.RESOLVED_BY_REBUILD, "tests"),
        (vip[1].position, DeadLetterStatus.RESOLVED_BY_REBUILD, "tests"),
    ]
    assert str(job.id) in resolved[0].skip_reason
    # Its stream is free again: the next event applies at once, in order.
    later = confirmation_append(vip[0].stream_id, version=vip[-1].version)
    host_deliver(consumer_spec(GROUP), [later], attempts=1, group_id=GROUP)
    assert DeadLetter.objects.filter(group_id=GROUP).count() == 2
    assert_consistent([*vip, later])


def test_replaying_a_dead_letter_a_rebuild_resolved_changes_nothing_and_says_so(op: User) -> None:
    vip, _ = vip_order_dead_lettered(op)
    rebuild()
    head = DeadLetter.objects.get(group_id=GROUP, position=vip[0].position)

    result = dead_letter_replay(dead_letter_id=head.pk, actor=op)

    assert result.outcome == "already_resolved_by_rebuild"
    assert "already resolved by a rebuild" in result.message
    head.refresh_from_db()
    assert head.status == DeadLetterStatus.RESOLVED_BY_REBUILD


def test_a_chain_left_behind_a_resolved_head_is_released_by_the_periodic_task(op: User) -> None:
    vip, _ = vip_order_dead_lettered(op)
    # What a rebuild's swap leaves when its worker dies before the release: the placement
    # is in the read model and its dead letter resolved, the confirmation still parked.
    projection_batch_handle(name=NAME, events=[vip[0]])
    assert dead_letter_resolve_rebuilt(group_id=GROUP, through_position=vip[0].position, resolved_by="t", reason="r")
    follower = DeadLetter.objects.get(group_id=GROUP, position=vip[1].position)
    assert follower.status == DeadLetterStatus.PARKED

    released = dead_letter_orphaned_chains_release()

    assert {group: summary.replayed for group, summary in released.items()} == {GROUP: 1}
    follower.refresh_from_db()
    assert follower.status == "replayed"
    assert dead_letter_orphaned_chains_release() == {}
    assert_consistent(vip)


class LiveTableReader(threading.Thread):
    """Reads the live read model in an open transaction, so a swap waits for it to finish."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def run(self) -> None:
        table = connection.ops.quote_name(OrderSummary._meta.db_table)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
                self.holding.set()
                self.let_go.wait(WAIT_SECONDS)
        finally:
            connection.close()


class Runner(threading.Thread):
    def __init__(self, job_id: str) -> None:
        super().__init__(daemon=True)
        self.job_id = job_id
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            projection_rebuild_run(job_id=self.job_id)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            connection.close()


def _swap_waiting() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
            [OrderSummary._meta.db_table],
        )
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_events_parked_after_the_rebuild_read_its_last_event_are_released_in_order_after_the_swap(
    op: User, kafka: KafkaSetup
) -> None:
    # Committed for real here, the dead letters put their copies on the DLQ topic of a real broker.
    vip, _ = vip_order_dead_lettered(op)
    reader = LiveTableReader()
    reader.start()
    assert reader.holding.wait(WAIT_SECONDS)
    job = projection_rebuild_request(name=NAME, actor="tests", enqueue=False)
    runner = Runner(str(job.id))
    runner.start()
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not _swap_waiting():
            assert time.monotonic() < deadline, "the rebuild never reached its swap"
            time.sleep(0.02)
        # The swap has read the whole log and waits to rename: these come after what it holds,
        # and the consumer parks them behind the dead letter still blocking the stream.
        second = confirmation_append(vip[0].stream_id, version=vip[-1].version)
        third = confirmation_append(vip[0].stream_id, version=second.version)
        host_deliver(consumer_spec(GROUP), [second, third], attempts=1, group_id=GROUP)
        assert dead_letters_waiting() == 4
    finally:
        reader.let_go.set()
        reader.join(WAIT_SECONDS)
    runner.join(WAIT_SECONDS)
    assert not runner.is_alive() and not runner.errors
    job.refresh_from_db()
    assert job.status == "done", job.error

    dead_letters = list(DeadLetter.objects.filter(group_id=GROUP).order_by("position"))
    assert [(dl.position, dl.status) for dl in dead_letters] == [
        (vip[0].position, "resolved_by_rebuild"),
        (vip[1].position, "resolved_by_rebuild"),
        (second.position, "replayed"),
        (third.position, "replayed"),
    ]
    released = dead_letters[2:]
    assert released[0].resolved_at is not None and released[1].resolved_at is not None
    assert released[0].resolved_at <= released[1].resolved_at
    assert_consistent([*vip, second, third])
