from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.accounts.audit import AuditEntryInvalid
        from apps.api.errors import api_error_register

        api_error_register(
            AuditEntryInvalid,
            status=422,
            code="invalid",
            message=lambda exc: "; ".join(exc.messages),
            field=lambda exc: exc.field,
        )
