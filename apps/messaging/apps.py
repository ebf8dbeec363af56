from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "apps.messaging"
    label = "messaging"
    verbose_name = "Messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import after_task_publish

        from apps.messaging.heartbeat import beat_heartbeat_on_publish

        after_task_publish.connect(beat_heartbeat_on_publish, dispatch_uid="messaging.beat_heartbeat")
