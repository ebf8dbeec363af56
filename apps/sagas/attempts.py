"""Whether a step attempt is still wanted: the question a participant asks after holding a command back.

Participants know no saga rows (they answer commands); the step task hands them
:func:`attempt_still_pending` bound to its attempt, so a command a ``delay`` failure rule
held is dropped once its attempt timed out, was retried or was ended by an operator.
"""

from __future__ import annotations

from apps.sagas.models import AttemptStatus, SagaStep


def attempt_still_pending(step_id: int) -> bool:
    """True while attempt ``step_id`` awaits its answer; False once it ended, or when it is gone.

    A plain read, no lock: a command that passes it can still land after its attempt
    ends, but only within the time the participant's handler takes, not the whole delay.
    """
    return SagaStep.objects.filter(pk=step_id, status=AttemptStatus.PENDING).exists()
