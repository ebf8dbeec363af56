"""The channel the relay listens on: the event store NOTIFYs it after each append commits (PostgreSQL only).

The payload is empty: the relay reads the log itself. The trigger that used to send it
lives on only in migrations 0002 (which installed it) and 0004 (which drops it).
"""

from apps.eventstore.sql import APPENDED_CHANNEL

CHANNEL = APPENDED_CHANNEL
