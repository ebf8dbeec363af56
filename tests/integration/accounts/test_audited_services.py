"""The services that act for operators go through the one policy: what an entry cannot hold never happens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.accounts.audit import AuditEntryInvalid
from apps.accounts.models import AuditLog
from apps.messaging.dead_letters import FailureRule, failure_rule_create, poison_message_publish
from apps.messaging.topics import topics_ensure
from apps.projections.rebuild import RebuildAlreadyActive, projection_rebuild_request
from tests.integration.api.api_calls import bearer_client, post_json
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db


def test_a_poison_message_with_a_nul_in_its_key_is_refused_and_nothing_is_published(
    operator: User, kafka: KafkaSetup
) -> None:
    topics_ensure()

    with pytest.raises(AuditEntryInvalid, match="NUL") as invalid:
        poison_message_publish(raw=b"\x00not an event", key=b"order\x00poison", actor=operator)
    poison_message_publish(raw=b"after", key=b"order-ok", actor=operator)

    assert invalid.value.field == "key"
    # Had the refused one gone out, it would be the topic's first record.
    [record] = topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=1)
    assert (record.key, record.value) == (b"order-ok", b"after")
    assert list(AuditLog.objects.values_list("action", "outcome")) == [("poison_message.publish", "ok")]


def test_over_the_api_a_nul_in_a_poison_key_is_a_4xx_naming_the_key_and_publishes_nothing(
    operator: User, kafka: KafkaSetup
) -> None:
    topics_ensure()
    client: Client = bearer_client(operator)

    refused = post_json(client, "/api/poison-messages", {"text": "garbage", "key": "order\u0000poison"})
    accepted = post_json(client, "/api/poison-messages", {"text": "after", "key": "order-ok"})

    assert 400 <= refused.status_code < 500, refused.content
    error = refused.json()["error"]
    assert error["field"] == "key" or "key" in error["message"], error
    assert accepted.status_code == 202, accepted.content
    [record] = topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=1)
    assert record.value == b"after"
    assert list(AuditLog.objects.values_list("outcome", flat=True)) == ["ok"]


def test_a_failure_rule_whose_group_the_entry_cannot_hold_is_not_created(operator: User) -> None:
    with pytest.raises(AuditEntryInvalid) as invalid:
        failure_rule_create(actor=operator, group_id="projection\x00", kind="probability", probability=0.5)

    assert invalid.value.field == "group_id"
    assert not FailureRule.objects.exists()
    assert not AuditLog.objects.exists()


def test_a_created_rule_is_audited_once_with_what_was_asked_and_the_rule_it_made(operator: User) -> None:
    rule = failure_rule_create(actor=operator, kind="probability", probability=0.25)

    entry = AuditLog.objects.get()
    assert (entry.action, entry.outcome, entry.target) == ("failure_rule.create", "ok", "group:*")
    assert entry.parameters["probability"] == 0.25 and entry.result == {"rule_id": rule.pk}
    assert rule.created_by == "olga"


def test_a_second_rebuild_request_is_one_refused_entry_pointing_at_the_active_job(operator: User) -> None:
    first = projection_rebuild_request(name="order_summary", actor=operator, enqueue=False)
    with pytest.raises(RebuildAlreadyActive):
        projection_rebuild_request(name="order_summary", actor=operator, enqueue=False)

    entries = AuditLog.objects.filter(action="projection.rebuild").order_by("id")
    assert [(e.outcome, e.result) for e in entries] == [
        ("ok", {"job_id": str(first.id)}),
        ("refused", {"active_job_id": str(first.id)}),
    ]
    assert entries[1].detail == "a rebuild of this projection is already active"
    assert entries[0].correlation_id != entries[1].correlation_id


def test_the_api_gate_records_a_refused_path_holding_a_nul_escaped_instead_of_failing(
    viewer: User, operator: User
) -> None:
    path = "/api/projections/order%00summary/rebuild"

    refused = post_json(bearer_client(viewer), path)
    refused_by_the_schema = post_json(bearer_client(operator), path)

    assert refused.status_code == 403, refused.content
    # An operator passes the gate and the path parameter's type names the NUL.
    assert refused_by_the_schema.status_code == 422, refused_by_the_schema.content
    assert refused_by_the_schema.json()["error"]["field"] == "name"
    entry = AuditLog.objects.get()
    assert (entry.action, entry.outcome, entry.target) == (
        "api.request",
        "refused",
        "/api/projections/order\\u0000summary/rebuild",
    )
