"""The event store: append-only streams, optimistic concurrency, gapless global reads."""
