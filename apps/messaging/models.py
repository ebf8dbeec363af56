from apps.messaging.dead_letters.models import DeadLetter, DeadLetterAttempt, DeadLetterReplayJob, FailureRule  # noqa: F401
from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample, ProjectionLagSample  # noqa: F401
from apps.messaging.relay.models import RelayCheckpoint  # noqa: F401
