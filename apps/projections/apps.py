from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "apps.projections"
    label = "projections"
    verbose_name = "Projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.projections.live import projection_consumers_register
        from apps.projections.monitoring import projection_sources_register

        projection_consumers_register()
        projection_sources_register()
