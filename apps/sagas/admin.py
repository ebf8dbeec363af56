"""Admin for sagas: inspect a saga and its every attempt; retry, resume or compensate through the same audited services.

Saga rows change only through the orchestrator and the operator services, so the admin
never adds, edits or deletes them; its actions call the services one saga at a time and
report each outcome, so a refusal (the action does not apply, no operator role) is a
message, not an error page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.sagas.models import SagaInstance, SagaStep
from apps.sagas.services import SagaActionNotApplicable, saga_compensate, saga_resume, saga_retry

_ATTEMPT_FIELDS = [
    "name",
    "target",
    "kind",
    "attempt",
    "max_attempts",
    "status",
    "wait_before_ms",
    "started_at",
    "deadline_at",
    "finished_at",
    "outcome",
    "error",
    "command",
    "command_id",
    "causation_id",
    "answer_event_type",
    "answer_stream_id",
    "answer_position",
    "compensates",
]


_INLINE_FIELDS = (
    "name",
    "target",
    "kind",
    "attempt",
    "status",
    "wait_before_ms",
    "started_at",
    "finished_at",
    "outcome",
)


class SagaStepInline(admin.TabularInline):
    model = SagaStep
    fields = _INLINE_FIELDS
    readonly_fields = _INLINE_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["sequence", "started_at", "attempt"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_each(
    modeladmin: admin.ModelAdmin[SagaInstance],
    request: HttpRequest,
    queryset: QuerySet[SagaInstance],
    label: str,
    service: Callable[[SagaInstance], object],
) -> None:
    done, refused = 0, []
    for saga in queryset:
        try:
            service(saga)
        except (SagaActionNotApplicable, PermissionDenied) as exc:
            refused.append(f"{saga.order_id}: {exc}")
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{label}: {done} saga{'s' if done != 1 else ''} done.", messages.SUCCESS)
    for refusal in refused:
        modeladmin.message_user(request, f"{label} refused for {refusal}", messages.WARNING)


@admin.register(SagaInstance)
class SagaInstanceAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "order_id",
        "status",
        "current_step",
        "reason_short",
        "started_at",
        "ended_at",
        "in_console",
    ]
    list_filter = ["status", "current_step", "saga_type", "started_at"]
    search_fields = ["=id", "order_id", "correlation_id", "status_reason"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["-started_at"]
    readonly_fields = (
        "id",
        "saga_type",
        "order_id",
        "correlation_id",
        "status",
        "current_step",
        "status_reason",
        "context",
        "trigger_event_id",
        "trigger_position",
        "started_at",
        "updated_at",
        "ended_at",
        "in_console",
    )
    fields = readonly_fields
    inlines = [SagaStepInline]
    actions = ["retry_sagas", "resume_sagas", "compensate_sagas"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="saga", ordering="id")
    def short_id(self, saga: SagaInstance) -> str:
        return str(saga.id)[:8]

    @admin.display(description="why")
    def reason_short(self, saga: SagaInstance) -> str:
        return saga.status_reason if len(saga.status_reason) <= 80 else saga.status_reason[:79] + "…"

    @admin.display(description="console")
    def in_console(self, saga: SagaInstance) -> SafeString:
        return format_html('<a href="{}">timeline &rsaquo;</a>', reverse("console:saga", args=[saga.id]))

    @admin.action(description="Retry the failed or stuck step of the selected sagas")
    def retry_sagas(self, request: HttpRequest, queryset: QuerySet[SagaInstance]) -> None:
        _run_each(self, request, queryset, "Retry", lambda saga: saga_retry(saga_id=saga.id, actor=request.user))

    @admin.action(description="Resume the selected stuck sagas")
    def resume_sagas(self, request: HttpRequest, queryset: QuerySet[SagaInstance]) -> None:
        _run_each(self, request, queryset, "Resume", lambda saga: saga_resume(saga_id=saga.id, actor=request.user))

    @admin.action(description="Compensate the selected sagas (asks for a reason)")
    def compensate_sagas(self, request: HttpRequest, queryset: QuerySet[SagaInstance]) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("apply") and reason:
            _run_each(
                self,
                request,
                queryset,
                "Compensate",
                lambda saga: saga_compensate(saga_id=saga.id, actor=request.user, reason=reason),
            )
            return None
        # An intermediate page: compensation needs a reason, which the audit log keeps.
        context = {
            **self.admin_site.each_context(request),
            "title": "Compensate sagas: why?",
            "sagas": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "missing_reason": bool(request.POST.get("apply")),
        }
        return TemplateResponse(request, "admin/sagas/compensate.html", context)


@admin.register(SagaStep)
class SagaStepAdmin(admin.ModelAdmin):
    list_display = ["saga_link", "name", "target", "kind", "attempt", "status", "started_at", "finished_at", "outcome"]
    list_filter = ["status", "kind", "name", "started_at"]
    search_fields = ["saga__order_id", "target", "outcome", "command_id", "answer_event_id"]
    list_select_related = ["saga"]
    list_per_page = 100
    show_full_result_count = False
    ordering = ["-started_at"]
    readonly_fields = ("saga_link", *_ATTEMPT_FIELDS, "sequence", "answer_event_id")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="saga", ordering="saga__started_at")
    def saga_link(self, step: SagaStep) -> SafeString:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">timeline &rsaquo;</a>',
            reverse("admin:sagas_sagainstance_change", args=[step.saga_id]),
            step.saga.order_id,
            reverse("console:saga", args=[step.saga_id]),
        )
