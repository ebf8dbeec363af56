"""The order domain's event schemas: ``avro/<EventType>/v<N>.avsc`` and the upcasters between versions.

The event store knows no domain: :func:`order_event_schemas_register` hands these to its
schema catalogue when the orders app starts (``OrdersConfig.ready``).
"""

from __future__ import annotations

from pathlib import Path

from apps.eventstore.schemas import schema_directory_register

# Imported for its effect: each upcaster registers itself with the event store.
from apps.orders.event_schemas import upcasters as upcasters

ORDER_SCHEMAS_ROOT = Path(__file__).resolve().parent / "avro"


def order_event_schemas_register() -> None:
    """Register the order domain's schemas and upcasters with the event store; calling it again does nothing."""
    schema_directory_register(root=ORDER_SCHEMAS_ROOT)
