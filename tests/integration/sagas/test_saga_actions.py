"""Operator actions on sagas: each with its preview, audited, refused for a viewer, 409 where it does not apply."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from apps.accounts.models import AuditLog
from apps.accounts.services import api_token_create
from apps.messaging.dead_letters import failure_rule_disable
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.sagas.models import AttemptStatus, SagaStatus, SagaStep
from apps.sagas.services import (
    SagaActionNotApplicable,
    saga_action_preview,
    saga_compensate,
    saga_resume,
    saga_retry,
)
from tests.integration.sagas.orders import event_types, saga_wait, stack_user, stuck_saga_make
from tests.support.stack import PipelineStack


def rules_seen_by_every_process() -> None:
    """Wait until the worker's processes have dropped the rules they cached (DEAD_LETTER_CACHE_SECONDS).

    Without it, a step sent at once can still meet the switched-off no-reply rule in a
    worker process that read the rules less than a second ago, and take one more attempt.
    """
    time.sleep(settings.DEAD_LETTER_CACHE_SECONDS + 0.5)


def authorize(order_id: str) -> dict[str, Any]:
    return {
        "type": "AuthorizePayment",
        "participant": "payment",
        "fields": {"order_id": order_id, "amount_cents": 300, "currency": "EUR"},
    }


def release(order_id: str) -> dict[str, Any]:
    return {
        "type": "ReleaseStock",
        "participant": "inventory",
        "fields": {"sku": f"sku-{order_id}", "order_id": order_id},
    }


def test_resume_sends_what_its_preview_showed_and_the_saga_completes(saga_stack: PipelineStack) -> None:
    operator = stack_user("olga", "operator")
    saga, rule = stuck_saga_make(saga_stack, "o-resume")

    previews = {
        action: saga_action_preview(saga_id=saga.pk, action=action) for action in ("retry", "resume", "compensate")
    }
    failure_rule_disable(rule_id=rule.pk, actor=operator)
    failure_rules_forget()
    rules_seen_by_every_process()
    result = saga_resume(saga_id=saga.pk, actor=operator)
    done = saga_wait(saga_stack, "o-resume", statuses={SagaStatus.COMPLETED})

    assert previews["resume"].applicable and previews["resume"].commands == [authorize("o-resume")]
    assert previews["retry"].commands == [authorize("o-resume")]
    # The payment's outcome is unknown, so forcing compensation refunds nothing: it releases the stock.
    assert previews["compensate"].commands == [release("o-resume")]
    assert result.commands == previews["resume"].commands
    assert result.status_after == SagaStatus.RUNNING
    payment = list(done.steps.filter(name="authorize_payment").order_by("attempt"))
    # Resume grants the step its attempts again: the next one is attempt 4 of 6. (Under load an
    # answer can take longer than the stack's 2 s timeout, so attempt 4 may time out in turn.)
    assert (payment[3].attempt, payment[3].max_attempts) == (4, 6)
    assert payment[-1].status == AttemptStatus.SUCCEEDED
    assert Counter(event_types("o-resume"))["PaymentAuthorized"] == 1
    entry = AuditLog.objects.get(action="saga.resume")
    assert (entry.outcome, entry.target, entry.actor) == ("ok", f"saga:{saga.pk}", "olga")
    # Completed now: nothing applies, and asking says so without changing anything.
    assert not saga_action_preview(saga_id=saga.pk, action="retry").applicable
    with pytest.raises(SagaActionNotApplicable, match="completed"):
        saga_retry(saga_id=saga.pk, actor=operator)
    assert AuditLog.objects.get(action="saga.retry").outcome == "refused"
    assert SagaStep.objects.filter(saga=saga).count() == len(done.steps.all())


def test_forced_compensation_needs_a_reason_and_undoes_what_the_preview_said(saga_stack: PipelineStack) -> None:
    operator = stack_user("olga", "operator")
    viewer = stack_user("vera", "viewer")
    saga, _rule = stuck_saga_make(saga_stack, "o-forced")

    with pytest.raises(ValidationError):
        saga_compensate(saga_id=saga.pk, actor=operator, reason="   ")
    with pytest.raises(PermissionDenied):
        saga_compensate(saga_id=saga.pk, actor=viewer, reason="not mine to do")
    preview = saga_action_preview(saga_id=saga.pk, action="compensate")
    result = saga_compensate(saga_id=saga.pk, actor=operator, reason="customer called to cancel")
    done = saga_wait(saga_stack, "o-forced", statuses={SagaStatus.COMPENSATED})

    assert result.commands == preview.commands == [release("o-forced")]
    assert done.status_reason == "compensation forced by olga: customer called to cancel"
    cancel = done.steps.get(name="cancel_order")
    assert cancel.command["fields"]["reason"] == "compensation forced by olga: customer called to cancel"
    assert Counter(event_types("o-forced")) == Counter(
        {"OrderPlaced": 1, "StockReserved": 1, "StockReleased": 1, "OrderCancelled": 1}
    )
    refused = AuditLog.objects.get(action="saga.compensate", actor="vera")
    assert refused.outcome == "refused"
    with pytest.raises(SagaActionNotApplicable):
        saga_compensate(saga_id=saga.pk, actor=operator, reason="again")


def test_the_same_retry_asked_twice_at_once_takes_effect_once(saga_stack: PipelineStack) -> None:
    operator = stack_user("olga", "operator")
    saga, rule = stuck_saga_make(saga_stack, "o-twice")
    failure_rule_disable(rule_id=rule.pk, actor=operator)
    failure_rules_forget()
    rules_seen_by_every_process()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def retry() -> None:
        barrier.wait()
        try:
            saga_retry(saga_id=saga.pk, actor=operator)
            outcomes.append("retried")
        except SagaActionNotApplicable:
            outcomes.append("not applicable")

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Counted at once, before a timeout (2 s here) could add an attempt of its own: one retry, one attempt.
    retried = list(saga.steps.filter(name="authorize_payment", attempt__gt=3).values_list("attempt", flat=True))
    saga_wait(saga_stack, "o-twice", statuses={SagaStatus.COMPLETED})

    assert sorted(outcomes) == ["not applicable", "retried"]
    assert retried == [4]
    assert Counter(event_types("o-twice"))["PaymentAuthorized"] == 1


def test_the_api_lists_details_previews_and_acts_with_409_and_403_where_due(saga_stack: PipelineStack) -> None:
    operator = stack_user("olga", "operator")
    viewer = stack_user("vera", "viewer")
    as_operator = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=operator, name='t')}")
    as_viewer = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=viewer, name='t')}")
    stuck, _rule = stuck_saga_make(saga_stack, "o-api-1")
    other, _other_rule = stuck_saga_make(saga_stack, "o-api-2")

    listed = as_viewer.get("/api/sagas", {"status": "stuck", "limit": "10"})
    detail = as_viewer.get(f"/api/sagas/{stuck.pk}")
    preview = as_viewer.get(f"/api/sagas/{stuck.pk}/preview", {"action": "compensate"})
    refused = as_viewer.post(f"/api/sagas/{stuck.pk}/retry", content_type="application/json")
    no_reason = as_operator.post(f"/api/sagas/{stuck.pk}/compensate", data={}, content_type="application/json")
    resumed = as_operator.post(f"/api/sagas/{stuck.pk}/resume", content_type="application/json")
    again = as_operator.post(f"/api/sagas/{stuck.pk}/resume", content_type="application/json")
    bulk = as_operator.post(
        "/api/sagas/compensate",
        data=json.dumps({"text": "o-api-", "reason": "bulk test"}),
        content_type="application/json",
    )
    empty_filter = as_operator.post(
        "/api/sagas/compensate", data=json.dumps({"reason": "all?"}), content_type="application/json"
    )

    assert listed.status_code == 200
    assert {row["order_id"] for row in listed.json()} == {"o-api-1", "o-api-2"}
    assert listed.json()[0]["condition"].startswith("stuck: payment outcome unknown")
    body = detail.json()
    assert detail.status_code == 200 and body["status"] == "stuck"
    assert [(s["name"], s["attempt"]) for s in body["steps"]][-3:] == [("authorize_payment", n) for n in (1, 2, 3)]
    assert preview.json() == {
        "action": "compensate",
        "applicable": True,
        "reason_not_applicable": "",
        "commands": [release("o-api-1")],
    }
    assert refused.status_code == 403
    assert no_reason.status_code == 422
    assert resumed.status_code == 200 and resumed.json()["commands"] == [authorize("o-api-1")]
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_applicable"
    assert bulk.status_code == 200
    outcome = bulk.json()
    assert sorted(outcome["succeeded"] + [f["id"] for f in outcome["failed"]]) == sorted([str(stuck.pk), str(other.pk)])
    assert str(other.pk) in outcome["succeeded"]
    assert empty_filter.status_code == 422
    saga_wait(saga_stack, "o-api-2", statuses={SagaStatus.COMPENSATED})
    assert AuditLog.objects.filter(action="saga.compensate_matching", outcome="ok").count() == 1
