from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    name = "apps.eventstore"
    label = "eventstore"
    verbose_name = "Event store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.api.errors import api_error_register
        from apps.eventstore.errors import SchemaValidationError, WrongExpectedVersion

        api_error_register(
            WrongExpectedVersion,
            status=409,
            code="concurrency_conflict",
            message=lambda exc: f"{exc}; other writers kept changing the stream, retry the command",
        )
        api_error_register(SchemaValidationError, status=422, code="schema_validation", field=lambda exc: exc.field)
