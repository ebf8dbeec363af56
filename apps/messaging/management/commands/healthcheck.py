"""``python manage.py healthcheck relay|worker|beat``: exit 0 when the process is alive and working.

The containers' health checks in docker-compose.yml run it beside the process they judge.
A relay standing by (another relay holds the lease and publishes) is healthy: with
``--scale relay=2`` both containers pass, and the overview names which one is active.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.messaging.health import Health, beat_health, relay_health, this_host, worker_health


class Command(BaseCommand):
    help = (
        "Exit 0 when the relay (active or standing by), the worker's consumers or Celery beat on this host "
        "beat recently (heartbeats in Redis), non-zero with the reason otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("process", choices=["relay", "worker", "beat"])
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="Seconds a heartbeat stays fresh (HEARTBEAT_TTL_SECONDS; for beat, three schedule intervals).",
        )
        parser.add_argument("--any-host", action="store_true", help="Accept a heartbeat from any host.")
        parser.add_argument("--relay-name", default="default", help="The relay's checkpoint name.")

    def handle(self, *args: Any, **options: Any) -> None:
        host = None if options["any_host"] else this_host()
        max_age = options["max_age"]
        process = options["process"]
        health: Health
        if process == "relay":
            health = relay_health(name=options["relay_name"], max_age=max_age, host=host)
        elif process == "worker":
            health = worker_health(max_age=max_age, host=host)
        else:
            health = beat_health(max_age=max_age, host=host)
        if not health.healthy:
            raise CommandError(f"unhealthy: {health.reason}", returncode=1)
        self.stdout.write(f"healthy: {health.reason}")
