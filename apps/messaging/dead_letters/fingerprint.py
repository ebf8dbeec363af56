"""Failure fingerprints: which dead letters failed the same way, so an operator fixes one cause at a time.

A fingerprint is the exception's class plus the frame of our own code (a file under
``apps/``) closest to where it was raised, as ServicePulse and Wolverine group failures:
the innermost such frame, since the outer ones (the consumer host, the replay service)
are the same for every failure. Line numbers are left out on purpose so that a
fingerprint survives an unrelated edit of the same file.

It is computed from the formatted traceback text, the one thing every dead letter keeps,
so recording a failure and backfilling old rows (migration 0006) give the same answer.
"""

from __future__ import annotations

import re

FINGERPRINT_MAX_LENGTH = 500
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<function>.+)$', re.MULTILINE)
_OUR_CODE = re.compile(r"(?:^|[/\\])(apps[/\\].+)$")
# format_exception prints the causes first; the exception itself is the last traceback.
_LAST_TRACEBACK = "Traceback (most recent call last):"


def failure_fingerprint(*, error_class: str, traceback_text: str) -> str:
    """``"<error class> @ apps/<path>:<function>"``, or just the class when no frame of ours is in the traceback."""
    if not error_class:
        return ""
    tail = traceback_text.rsplit(_LAST_TRACEBACK, 1)[-1]
    ours = ""
    for frame in _FRAME.finditer(tail):
        match = _OUR_CODE.search(frame["file"])
        if match is not None:
            ours = f"{match[1].replace(chr(92), '/')}:{frame['function'].strip()}"
    fingerprint = f"{error_class} @ {ours}" if ours else error_class
    return fingerprint[:FINGERPRINT_MAX_LENGTH]
