"""Avro beside JSON on ``order-events``, same broker, same run: relay throughput and the projection's apply rate.

For each value format in turn (JSON first, then Avro), with its own topic: append whole
orders of its own (``fmt-json-*`` / ``fmt-avro-*``), let a relay of its own
(``Relay(value_format=...)``, checkpoint set just before those orders) publish a warm-up
batch untimed and then the measured events, timed; then the ``order_summary`` consumer (its
real ``ConsumerSpec``, timed from the end of its first batch) applies everything on that
topic. The figure is Avro's rate, the reference JSON's, measured the same way; the order is
fixed, so a machine that gets busier during the run favours JSON.

Import this only after Django is set up.
"""

from __future__ import annotations

import time

from django.test import override_settings

from apps.eventstore.store import head_position
from apps.messaging.relay.checkpoint import relay_checkpoint_get, relay_checkpoint_save
from apps.messaging.relay.loop import Relay
from bench.common import phase
from bench.figure import Figure
from bench.pipeline_kafka import PROJECTION, projection_apply_rate
from bench.pipeline_orders import orders_append

FORMATS = ("json", "avro")
WARMUP_EVENTS = 500


def _relay_rate(value_format: str, total: int) -> tuple[float, int]:
    """Events/s of a relay writing ``value_format``, and how many events its topic holds afterwards."""
    name = f"bench-{value_format}"
    relay_checkpoint_get(name=name)  # the row exists from here on: a save only ever moves it forward
    relay_checkpoint_save(name=name, position=head_position())
    relay = Relay(name=name, value_format=value_format)
    try:
        with phase(f"relay writing {value_format}: warm-up", 1) as advance:
            warm, next_order = orders_append(events=WARMUP_EVENTS, prefix=f"fmt-{value_format}")
            if relay.run_once() != warm:
                raise RuntimeError(f"the {value_format} relay missed part of its warm-up")
            advance(1)
        written, _ = orders_append(events=total, prefix=f"fmt-{value_format}", start=next_order)
        with phase(f"relay writing {value_format}: {written:,} events", 1) as advance:
            started = time.perf_counter()
            done = relay.run_once()
            seconds = time.perf_counter() - started
            advance(1)
    finally:
        relay.close()
    if done != written:
        raise RuntimeError(f"the {value_format} relay published {done} events, {written} were appended")
    return written / seconds, warm + written


def figures_formats(total: int) -> list[Figure]:
    """Relay throughput and apply rate with Avro values, each beside the same with JSON."""
    relay_rate: dict[str, float] = {}
    apply_rate: dict[str, float] = {}
    for value_format in FORMATS:
        topic = f"bench-{value_format}-events"
        with override_settings(KAFKA_TOPIC=topic, KAFKA_DLQ_TOPIC=f"{topic}.dlq"):
            relay_rate[value_format], in_topic = _relay_rate(value_format, total)
            apply_rate[value_format] = projection_apply_rate(in_topic, up_to=head_position())
    return [
        Figure(
            f"relay throughput avro values {total:,} events",
            relay_rate["avro"],
            "events/s",
            "the same relay writing json, same run",
            relay_rate["json"],
            "none (Avro's cost or gain beside JSON)",
        ),
        Figure(
            f"apply rate {PROJECTION} consumer avro values",
            apply_rate["avro"],
            "events/s",
            "the same consumer reading json, same run",
            apply_rate["json"],
            "none (Avro's cost or gain beside JSON)",
        ),
    ]
