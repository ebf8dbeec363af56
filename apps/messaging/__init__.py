"""Kafka: the outbox relay, the consumer host in the Celery worker, dead letters and lag."""
