"""CONSUMER_GROUPS: which registered consumer groups a worker hosts, and what its health then judges."""

from __future__ import annotations

from typing import Any

import pytest

from apps.messaging.health import worker_health
from apps.messaging.registry import consumer_specs, consumer_specs_selected


def test_empty_selects_every_registered_group_and_names_select_those_only() -> None:
    every = [spec.group_id for spec in consumer_specs()]

    assert "saga.order" in every and len(every) > 1
    assert [spec.group_id for spec in consumer_specs_selected([])] == every
    without_saga = [group for group in every if group != "saga.order"]
    assert [spec.group_id for spec in consumer_specs_selected(without_saga)] == without_saga
    assert [spec.group_id for spec in consumer_specs_selected(["saga.order"])] == ["saga.order"]


def test_a_mistyped_group_is_refused_with_the_registered_names() -> None:
    with pytest.raises(ValueError, match=r"unknown consumer group\(s\) saga\.orders; registered: .*saga\.order"):
        consumer_specs_selected(["saga.orders", "saga.order"])


def test_the_workers_health_names_a_mistyped_group(settings: Any) -> None:
    settings.CONSUMER_HOST_ENABLED = True
    settings.CONSUMER_GROUPS = ["no.such.group"]

    health = worker_health()

    assert not health.healthy and "CONSUMER_GROUPS: unknown consumer group(s) no.such.group" in health.reason
