"""The gapless check: a global log read never passes a position that an open transaction still holds.

Appends on PostgreSQL take their positions from a sequence and commit in any order, so a
read can see position N + 1 committed while N is still in flight. Every in-flight append
holds an advisory lock named after its first position (see ``apps.eventstore.sql``); a
batch that is not contiguous asks for the lowest such position and stops before it.
"""

from __future__ import annotations

from typing import Any

from apps.eventstore.store.rows import events_select

# Per process and alias: every position below this is settled (committed or abandoned
# for good), so reads below it need no in-flight check.
_settled_below: dict[str, int] = {}


def settled_below(using: str) -> int:
    """A position below which every position of ``using`` is known to be settled (0: nothing known yet)."""
    return _settled_below.get(using, 0)


def rows_without_unsettled(
    cursor: Any, using: str, after: int, rows: list[tuple[Any, ...]], settled_before: int
) -> list[tuple[Any, ...]]:
    """``rows`` (read after ``after``, in position order) cut before the first position still in flight.

    ``settled_before`` is :func:`settled_below` taken before the rows were read: only a
    bound settled before that statement's snapshot proves that it holds every position
    below the bound.
    """
    last = rows[-1][0]
    if last - after == len(rows) or last < settled_before:
        return rows
    cursor.execute("SELECT any_min, others_min FROM eventstore_unsettled_min()")
    any_min, others_min = cursor.fetchone()
    # Our own open transaction's positions are not settled for other threads, but this
    # connection already sees its rows (read your own writes, as on SQLite).
    settled = last + 1 if any_min is None else min(any_min, last + 1)
    _settled_below[using] = max(_settled_below.get(using, 0), settled)
    # This statement's snapshot is newer than the check: it holds every position that
    # was committed below the first one still in flight.
    select = events_select(using)
    if others_min is None:
        cursor.execute(f"{select} WHERE position > %s AND position <= %s ORDER BY position", [after, last])
    else:
        cursor.execute(
            f"{select} WHERE position > %s AND position < %s AND position <= %s ORDER BY position",
            [after, others_min, last],
        )
    return list(cursor.fetchall())
