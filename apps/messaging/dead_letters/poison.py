"""Put an undecodable message on the events topic, so the demo and the tests can show what happens."""

from __future__ import annotations

from apps.accounts.services import Actor, audit_log_record, operator_require


def poison_message_publish(*, raw: bytes, actor: Actor, key: bytes | None = None) -> None:
    """Produce ``raw`` as is to ``order-events`` (operator only, audited).

    Consumers cannot decode it; each group records it as a dead letter holding the raw
    bytes and goes on.
    """
    from apps.messaging.producer import poison_publish

    parameters = {"size": len(raw), "key": key.decode(errors="replace") if key else None, "preview": repr(raw[:64])}
    operator_require(actor=actor, action="poison_message.publish", target="topic:order-events", parameters=parameters)
    try:
        poison_publish(key=key, value=raw)
    except Exception as exc:
        audit_log_record(
            actor=actor,
            action="poison_message.publish",
            target="topic:order-events",
            parameters=parameters,
            outcome="failed",
            detail=f"{type(exc).__name__}: {exc}",
        )
        raise
    audit_log_record(
        actor=actor, action="poison_message.publish", target="topic:order-events", parameters=parameters, outcome="ok"
    )
