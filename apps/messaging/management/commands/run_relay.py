"""``python manage.py run_relay``: publish the event store to Kafka until SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.messaging.relay.loop import Relay


class Command(BaseCommand):
    help = "Publish stored events to Kafka in position order (at-least-once), waking on new appends."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default="default", help="Checkpoint name (one per relay).")
        parser.add_argument("--batch-size", type=int, default=None, help="Events per batch (RELAY_BATCH_SIZE).")
        parser.add_argument("--once", action="store_true", help="Publish the backlog, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            # Finish the batch in hand (its checkpoint included), then leave.
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        relay = Relay(name=options["name"], batch_size=options["batch_size"], stop=stop)
        if options["once"]:
            count = relay.run_once()
            self.stdout.write(f"published {count} events")
            return
        relay.run()
