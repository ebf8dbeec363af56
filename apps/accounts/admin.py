"""Admin for tokens (list and revoke; never shows a token) and the audit log (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.accounts.models import ApiToken, AuditLog


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at"]
    list_filter = ["created_at"]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A token is shown once when created; `manage.py create_api_token` does that.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["started_at", "actor", "action", "target", "outcome", "finished_at"]
    list_filter = ["outcome", "action", "created_at"]
    search_fields = ["actor", "action", "target", "detail", "correlation_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "console",
        "correlation_id",
        "started_at",
        "finished_at",
        "created_at",
        "actor",
        "user",
        "action",
        "target",
        "parameters",
        "outcome",
        "detail",
        "result",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def view_on_site(self, entry: AuditLog) -> str:
        return f"/audit/?correlation_id={entry.correlation_id}"

    @admin.display(description="console")
    def console(self, entry: AuditLog) -> SafeString:
        return format_html('<a href="/audit/?correlation_id={}">open in console</a>', entry.correlation_id)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
