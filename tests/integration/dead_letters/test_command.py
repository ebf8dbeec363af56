"""``manage.py dead_letters``: the same services from the terminal, as a named operator."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import AuditLog
from apps.messaging.dead_letters import DeadLetterStatus
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, dead_letter_of, host_deliver, order_stream

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("dead_letters", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_list_replay_stream_and_replay_all_act_as_the_named_operator(consumer: ListConsumer, operator: User) -> None:
    first = order_stream(confirmations=1)
    second = order_stream(confirmations=0)
    consumer.failing = {first[0].position, second[0].position}
    host_deliver(consumer, first + second)
    consumer.failing.clear()

    listing = run("list", "--group", GROUP, "--status", "parked")
    stream = run("--as", "opal", "replay-stream", GROUP, first[0].stream_id)
    everything = run("--as", "opal", "replay-all", "--group", GROUP)

    assert f"parked behind {dead_letter_of(first[0]).pk}" in listing
    assert "replayed 2, failed 0, still parked 0" in stream
    assert "replayed 1, failed 0, still parked 0" in everything
    assert consumer.applied == [first[0].position, first[1].position, second[0].position]
    assert AuditLog.objects.filter(actor="opal", outcome="ok").count() == 2


def test_replay_and_skip_by_id_and_refusals_end_in_a_command_error(
    consumer: ListConsumer, operator: User, viewer: User
) -> None:
    events = order_stream(confirmations=0)
    other = order_stream(confirmations=0)
    consumer.failing = {events[0].position, other[0].position}
    host_deliver(consumer, events + other)
    consumer.failing.clear()
    head = dead_letter_of(events[0])

    with pytest.raises(CommandError, match="--as USER"):
        run("replay", str(head.pk))
    with pytest.raises(CommandError, match="operator role"):
        run("--as", "vera", "replay", str(head.pk))
    replayed = run("--as", "opal", "replay", str(head.pk))
    skipped = run("--as", "opal", "skip", str(dead_letter_of(other[0]).pk), "--reason", "test data")

    assert f"dead letter {head.pk} replayed" in replayed
    assert "skipped" in skipped
    assert dead_letter_of(other[0]).status == DeadLetterStatus.SKIPPED


def test_replay_all_takes_no_filter_as_everything_only_with_all(consumer: ListConsumer, operator: User) -> None:
    events = order_stream(confirmations=0)
    consumer.failing = {events[0].position}
    host_deliver(consumer, events)
    consumer.failing.clear()

    with pytest.raises(CommandError, match="--all"):
        run("--as", "opal", "replay-all")
    with pytest.raises(CommandError, match="not both"):
        run("--as", "opal", "replay-all", "--all", "--group", GROUP)
    assert dead_letter_of(events[0]).status == DeadLetterStatus.PARKED

    everything = run("--as", "opal", "replay-all", "--all")

    assert "replayed 1, failed 0, still parked 0" in everything
    assert dead_letter_of(events[0]).status == DeadLetterStatus.REPLAYED
