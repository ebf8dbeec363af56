"""The transactional-outbox relay: the event store's global log, in order, to ``order-events``.

At-least-once: the checkpoint moves only past positions Kafka acknowledged, so a relay
killed at any moment publishes again from its checkpoint and loses nothing; what it
sends twice the consumers' idempotent handlers absorb.

One relay publishes per name at a time: the holder of the lease in
:mod:`apps.messaging.relay.leadership`; the others stand by and take over from the checkpoint.

The loop is :class:`apps.messaging.relay.loop.Relay`, its checkpoint is read and written in
:mod:`apps.messaging.relay.checkpoint`. This ``__init__`` imports nothing on purpose: Django
loads the relay's model at start, and that must not load the Kafka client.
"""
