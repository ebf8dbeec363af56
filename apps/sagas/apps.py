from django.apps import AppConfig


class SagasConfig(AppConfig):
    name = "apps.sagas"
    label = "sagas"
    verbose_name = "Sagas"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.sagas.consumer import saga_consumer_register

        saga_consumer_register()
