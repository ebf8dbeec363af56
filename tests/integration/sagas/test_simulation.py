"""``manage.py simulate`` on the real pipeline: traffic with every failure on, and a report that passes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import AuditLog
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
    # Some customers' cancellations reached a running saga and compensated it, audited as the simulator's.
    cancels = AuditLog.objects.filter(action="saga.compensate", actor="simulator", outcome="ok")
    assert cancels.exists(), text
    assert SagaInstance.objects.filter(status_reason__contains="customer asked to cancel").exists()
