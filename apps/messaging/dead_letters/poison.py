"""Put an undecodable message on the events topic, so the demo and the tests can show what happens."""

from __future__ import annotations

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor


def poison_message_publish(*, raw: bytes, actor: Actor, key: bytes | None = None) -> None:
    """Produce ``raw`` as is to ``order-events`` (operator only, audited before it is sent).

    Consumers cannot decode it; each group records it as a dead letter holding the raw
    bytes and goes on.
    """
    from apps.messaging.producer import poison_publish

    parameters = {"size": len(raw), "key": key.decode(errors="replace") if key else None, "preview": repr(raw[:64])}
    with operator_action(
        actor=actor, action="poison_message.publish", target="topic:order-events", parameters=parameters
    ):
        poison_publish(key=key, value=raw)
