"""Errors the dead-letter services raise."""

from __future__ import annotations


class InjectedFailure(Exception):
    """A failure rule matched: the consumer fails this event on purpose."""

    def __init__(self, *, rule_id: int, description: str) -> None:
        super().__init__(f"failure rule {rule_id} matched: {description}")
        self.rule_id = rule_id


class DeadLetterNotReplayable(Exception):
    """This dead letter cannot be replayed (undecodable, or parked behind another one)."""
