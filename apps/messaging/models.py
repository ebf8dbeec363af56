from apps.messaging.dead_letters.models import DeadLetter, FailureRule  # noqa: F401
