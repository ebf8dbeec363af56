"""The NOTIFY that wakes the relay when events are appended (PostgreSQL only).

One notification per inserting statement, with an empty payload: PostgreSQL folds
identical notifications of one transaction into one, and the relay reads the log
itself, so the payload would carry nothing it needs.
"""

from apps.eventstore.sql import APPENDED_CHANNEL

# The event store now sends this NOTIFY after each append commits (see
# apps.eventstore.sql.APPENDED_NOTIFY); migration 0004 removes the trigger below, kept
# here because migration 0002 installs it.
CHANNEL = APPENDED_CHANNEL

POSTGRES_INSTALL = f"""
CREATE OR REPLACE FUNCTION eventstore_notify_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS eventstore_stored_event_notify ON eventstore_stored_event;
CREATE TRIGGER eventstore_stored_event_notify
    AFTER INSERT ON eventstore_stored_event
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore_notify_appended();
"""

POSTGRES_UNINSTALL = """
DROP TRIGGER IF EXISTS eventstore_stored_event_notify ON eventstore_stored_event;
DROP FUNCTION IF EXISTS eventstore_notify_appended();
"""
