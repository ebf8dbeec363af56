"""``manage.py simulate`` on the real pipeline: traffic with every failure on, and a report that passes."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import AuditLog
from apps.eventstore.models import StoredEvent
from apps.messaging.dead_letters import DeadLetter, DeadLetterStatus, FailureRule
from apps.sagas.models import SagaInstance, SagaStatus
from tests.support.stack import PipelineStack


@pytest.mark.timeout(400)
def test_a_short_run_with_every_failure_on_settles_and_its_report_passes(saga_stack: PipelineStack) -> None:
    out = StringIO()
    call_command(
        "simulate",
        rate=8,
        duration=10,
        seed=7,
        decline_rate=0.1,
        shortage_rate=0.1,
        no_reply_rate=0.05,
        delay_rate=0.1,
        delay_ms=200,
        projection_failure_rate=0.05,
        duplicate_rate=0.1,
        undecodable=1,
        cancel_rate=0.1,
        run_label="short",
        settle_timeout=120,
        stdout=out,
    )
    text = out.getvalue()
    (saga_stack.var_dir / "simulate.txt").write_text(text)

    assert "REPORT: every invariant holds" in text, text + saga_stack.log_tail()
    statuses = set(SagaInstance.objects.filter(order_id__startswith="sim-short-").values_list("status", flat=True))
    # Failures on: some sagas complete and some compensate.
    assert {SagaStatus.COMPLETED, SagaStatus.COMPENSATED} <= statuses, text
    # Every rule the run switched on is off again, and each was created by the simulator.
    rules = FailureRule.objects.all()
    assert rules and all(not rule.enabled and rule.created_by == "simulator" for rule in rules)
    # The projection rules parked events, and the run replayed every one of them.
    injected = DeadLetter.objects.filter(group_id__startswith="projection.", error_class__endswith="InjectedFailure")
    assert injected.exists() and not injected.filter(status=DeadLetterStatus.PARKED).exists()
    assert DeadLetter.objects.filter(position__isnull=True).exists()  # the undecodable record
    # Customers cancelled as customers do, through the order, and the order took every one...
    words = " ".join(text.split())  # the terminal wraps the summary
    sent = re.search(r"cancels (\d+) \((\d+) already cancelled\)", words)
    assert sent is not None and int(sent[1]) > int(sent[2]), text
    assert "too late" not in words and "unsent" not in words, text
    cancelled_by_customers = StoredEvent.objects.filter(
        event_type="OrderCancelled", stream_id__startswith="order-sim-short-", metadata__actor__startswith="customer:"
    )
    assert cancelled_by_customers.count() == int(sent[1]) - int(sent[2]), text
    # ...and their sagas undid what they had done; no operator forced anything.
    undone = SagaInstance.objects.filter(
        status=SagaStatus.COMPENSATED, status_reason="order cancelled outside the saga: customer asked to cancel"
    )
    assert undone.exists(), text
    assert not AuditLog.objects.filter(action__startswith="saga.").exists()
    # The simulator's operator role is in the audit log, with why it holds it.
    assert AuditLog.objects.filter(action="role.grant", target="user:simulator").count() == 1
