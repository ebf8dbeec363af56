"""Failure fingerprints: the error class and the innermost frame of our own code, without line numbers."""

from __future__ import annotations

import traceback

from apps.messaging.dead_letters.fingerprint import failure_fingerprint

TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/apps/messaging/dead_letters/chain.py", line 97, in event_apply
    spec.handle_one(event)
  File "/srv/app/apps/projections/projector.py", line 120, in apply_one
    self._apply(event)
  File "/usr/lib/python3.11/site-packages/django/db/models/query.py", line 50, in get
    raise self.model.DoesNotExist
LookupError: read model row is missing
"""


def test_the_innermost_frame_of_our_code_names_the_failure() -> None:
    assert (
        failure_fingerprint(error_class="LookupError", traceback_text=TRACEBACK)
        == "LookupError @ apps/projections/projector.py:apply_one"
    )


def test_line_numbers_do_not_split_a_group() -> None:
    moved = TRACEBACK.replace("line 120", "line 131")
    assert failure_fingerprint(error_class="LookupError", traceback_text=moved) == failure_fingerprint(
        error_class="LookupError", traceback_text=TRACEBACK
    )


def test_the_exception_itself_counts_not_its_cause() -> None:
    cause = TRACEBACK.replace("apps/projections/projector.py", "apps/orders/handlers.py")
    chained = cause + "\nThe above exception was the direct cause of the following exception:\n\n" + TRACEBACK
    assert failure_fingerprint(error_class="LookupError", traceback_text=chained).endswith("projector.py:apply_one")


def test_without_a_frame_of_ours_the_class_alone_is_the_fingerprint() -> None:
    assert failure_fingerprint(error_class="ValueError", traceback_text="ValueError: bad\n") == "ValueError"
    assert failure_fingerprint(error_class="", traceback_text="") == ""


def test_frames_outside_apps_such_as_the_tests_do_not_count() -> None:
    try:
        raise KeyError("boom")
    except KeyError as exc:
        text = "".join(traceback.format_exception(exc))
    assert failure_fingerprint(error_class="KeyError", traceback_text=text) == "KeyError"
