"""Database objects behind the event store, per vendor.

PostgreSQL gets a position sequence, the append function and the in-flight check that
keep the global log gapless for readers without serialising writers (see README,
"Gapless global order"). Both vendors get triggers that refuse UPDATE and DELETE.
"""

# Session-level advisory lock held only while a writer takes its positions: a few
# microseconds, never across a writer's transaction.
RESERVATION_LOCK_KEY = -7_020_190_423

# An in-flight append holds a shared transaction-level advisory lock on key
# POSITION_LOCK_BASE + its first position. The offset keeps these keys apart from any
# other advisory lock in the database (small ids, hashtext() values), which the reader
# would otherwise take for an in-flight append and stop before.
POSITION_LOCK_BASE = 1 << 62
POSITION_LOCK_SPAN = 1 << 48

# Listeners (the relay) wake on this channel after an append commits.
APPENDED_CHANNEL = "eventstore_appended"
# Sent after the append's commit, in a transaction of its own without a WAL flush: a
# NOTIFY inside the appending transaction would take PostgreSQL's notify lock at commit
# and hold it through the commit's flush, serialising every appending commit. One
# statement (set_config is SET LOCAL) so that it can be prepared.
APPENDED_NOTIFY = f"SELECT pg_notify('{APPENDED_CHANNEL}', '') FROM set_config('synchronous_commit', 'off', true)"

CONFLICT_SQLSTATE = "ES409"
APPEND_ONLY_SQLSTATE = "ES405"

POSTGRES_INSTALL = f"""
CREATE SEQUENCE IF NOT EXISTS eventstore_position_seq AS bigint START 1 CACHE 1;

CREATE OR REPLACE FUNCTION eventstore_reserve_positions(p_count integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_first bigint;
BEGIN
    PERFORM pg_advisory_lock({RESERVATION_LOCK_KEY});
    BEGIN
        v_first := nextval('eventstore_position_seq');
        IF p_count > 1 THEN
            PERFORM setval('eventstore_position_seq', v_first + p_count - 1);
        END IF;
        -- Held until this transaction ends: readers see the reservation in pg_locks.
        PERFORM pg_advisory_xact_lock_shared({POSITION_LOCK_BASE} + v_first);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock({RESERVATION_LOCK_KEY});
        RAISE;
    END;
    PERFORM pg_advisory_unlock({RESERVATION_LOCK_KEY});
    RETURN v_first;
END $$;

DROP FUNCTION IF EXISTS eventstore_inflight_min_position();

-- The lowest position still held by an open transaction: any_min over all sessions,
-- others_min leaving out the caller's own transaction (whose rows it already sees).
CREATE OR REPLACE FUNCTION eventstore_unsettled_min(OUT any_min bigint, OUT others_min bigint)
LANGUAGE plpgsql AS $$
BEGIN
    -- Wait out any writer between nextval and registering its reservation. A session
    -- lock outlives a cancelled statement, so a cancel must not leave it held.
    BEGIN
        PERFORM pg_advisory_lock({RESERVATION_LOCK_KEY});
        PERFORM pg_advisory_unlock({RESERVATION_LOCK_KEY});
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock({RESERVATION_LOCK_KEY});
        RAISE;
    END;
    SELECT min(k.key) - {POSITION_LOCK_BASE},
           min(k.key) FILTER (WHERE k.pid IS DISTINCT FROM pg_backend_pid()) - {POSITION_LOCK_BASE}
    INTO any_min, others_min
    FROM (
        SELECT (l.classid::bigint << 32) | l.objid::bigint AS key, l.pid
        FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ) AS k
    WHERE k.key >= {POSITION_LOCK_BASE} AND k.key < {POSITION_LOCK_BASE + POSITION_LOCK_SPAN};
END $$;

-- The array form of earlier versions: every column of an append as an array of its own.
DROP FUNCTION IF EXISTS eventstore_append(text, text, bigint, text[], integer[], jsonb[], jsonb[], text[]);

-- p_events is one JSON array with an element per event, in version order:
-- [event_type, schema_version, data, metadata, correlation_id]. A client serialises it in
-- one call, and it is parsed once here; five arrays cost the client a call per element.
CREATE OR REPLACE FUNCTION eventstore_append(
    p_stream_id text,
    p_stream_type text,
    p_expected bigint,
    p_events jsonb,
    OUT first_position bigint,
    OUT new_version bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer := jsonb_array_length(p_events);
    v_base bigint;
    v_actual bigint;
BEGIN
    IF p_expected = -2 THEN
        INSERT INTO eventstore_event_stream AS s (stream_id, stream_type, version, created_at, updated_at)
        VALUES (p_stream_id, p_stream_type, v_count, now(), now())
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + v_count, updated_at = now()
        RETURNING s.version - v_count INTO v_base;
    ELSIF p_expected = -1 OR p_expected = 0 THEN
        -- Version 0 is "no events yet": the stream must not exist, as with NO_STREAM.
        INSERT INTO eventstore_event_stream (stream_id, stream_type, version, created_at, updated_at)
        VALUES (p_stream_id, p_stream_type, v_count, now(), now())
        ON CONFLICT (stream_id) DO NOTHING;
        IF NOT FOUND THEN
            SELECT version INTO v_actual FROM eventstore_event_stream WHERE stream_id = p_stream_id;
            RAISE EXCEPTION 'stream % already exists at version %', p_stream_id, v_actual
                USING ERRCODE = '{CONFLICT_SQLSTATE}', DETAIL = v_actual::text;
        END IF;
        v_base := 0;
    ELSE
        UPDATE eventstore_event_stream SET version = version + v_count, updated_at = now()
        WHERE stream_id = p_stream_id AND version = p_expected;
        IF NOT FOUND THEN
            SELECT version INTO v_actual FROM eventstore_event_stream WHERE stream_id = p_stream_id;
            RAISE EXCEPTION 'stream % is at version %, expected %', p_stream_id, coalesce(v_actual, 0), p_expected
                USING ERRCODE = '{CONFLICT_SQLSTATE}', DETAIL = coalesce(v_actual, 0)::text;
        END IF;
        v_base := p_expected;
    END IF;

    first_position := eventstore_reserve_positions(v_count);
    INSERT INTO eventstore_stored_event
        (position, stream_id, stream_type, version, event_type, schema_version,
         data, metadata, correlation_id, recorded_at)
    SELECT first_position + e.i - 1, p_stream_id, p_stream_type, v_base + e.i, e.event->>0,
           CAST(e.event->>1 AS integer), e.event->2, e.event->3, e.event->>4, now()
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(event, i);
    new_version := v_base + v_count;
END $$;

CREATE OR REPLACE FUNCTION eventstore_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stored events are append-only: % refused', TG_OP
        USING ERRCODE = '{APPEND_ONLY_SQLSTATE}';
END $$;

DROP TRIGGER IF EXISTS eventstore_stored_event_append_only ON eventstore_stored_event;
CREATE TRIGGER eventstore_stored_event_append_only
    BEFORE UPDATE OR DELETE ON eventstore_stored_event
    FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change();
"""

POSTGRES_UNINSTALL = """
DROP TRIGGER IF EXISTS eventstore_stored_event_append_only ON eventstore_stored_event;
DROP FUNCTION IF EXISTS eventstore_refuse_change();
DROP FUNCTION IF EXISTS eventstore_append(text, text, bigint, text[], integer[], jsonb[], jsonb[], text[]);
DROP FUNCTION IF EXISTS eventstore_append(text, text, bigint, jsonb);
DROP FUNCTION IF EXISTS eventstore_inflight_min_position();
DROP FUNCTION IF EXISTS eventstore_unsettled_min();
DROP FUNCTION IF EXISTS eventstore_reserve_positions(integer);
DROP SEQUENCE IF EXISTS eventstore_position_seq;
"""

SQLITE_INSTALL = [
    """CREATE TRIGGER IF NOT EXISTS eventstore_stored_event_no_update
       BEFORE UPDATE ON eventstore_stored_event
       BEGIN SELECT RAISE(ABORT, 'stored events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS eventstore_stored_event_no_delete
       BEFORE DELETE ON eventstore_stored_event
       BEGIN SELECT RAISE(ABORT, 'stored events are append-only: DELETE refused'); END""",
]

SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS eventstore_stored_event_no_update",
    "DROP TRIGGER IF EXISTS eventstore_stored_event_no_delete",
]
