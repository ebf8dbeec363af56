"""Admin for sagas: inspect a saga and its every attempt; retry, resume or compensate through the same audited services.

Saga rows change only through the orchestrator and the operator services, so the admin
never adds, edits or deletes them; its actions call the services one saga at a time and
report each outcome, so a refusal (the action does not apply, no operator role) is a
message, not an error page.
"""

from __future__ import annotations

import datetime as dt
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
from apps.sagas.services import BULK_LIMIT, SagaActionNotApplicable, saga_compensate, saga_resume, saga_retry

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


def _clock(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%m-%d\u00a0%H:%M:%S") if moment else "—"


def _duration(start: dt.datetime, end: dt.datetime | None) -> str:
    if end is None:
        return "—"
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.0f}\u00a0ms" if seconds < 1 else f"{seconds:.1f}\u00a0s"


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


def _too_many(
    modeladmin: admin.ModelAdmin[SagaInstance], request: HttpRequest, queryset: QuerySet[SagaInstance], label: str
) -> bool:
    """As the API's bulk actions: at most BULK_LIMIT sagas per action; above it, an error and nothing done."""
    selected = queryset.count()
    if selected <= BULK_LIMIT:
        return False
    modeladmin.message_user(
        request,
        f"{label}: {selected:,} sagas selected, at most {BULK_LIMIT:,} per action; nothing was done. "
        "Narrow the filter.",
        messages.ERROR,
    )
    return True


def _run_each(
    modeladmin: admin.ModelAdmin[SagaInstance],
    request: HttpRequest,
    queryset: QuerySet[SagaInstance],
    label: str,
    service: Callable[[SagaInstance], object],
) -> None:
    if _too_many(modeladmin, request, queryset, label):
        return
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
    # Compact columns: the list stays readable at 1280 px beside the filter sidebar.
    list_display = ["order_id", "status", "reason_short", "started", "took", "in_console"]
    list_filter = ["status", "current_step", "started_at"]
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

    @admin.display(description="why")
    def reason_short(self, saga: SagaInstance) -> str:
        return saga.status_reason if len(saga.status_reason) <= 70 else saga.status_reason[:69] + "…"

    @admin.display(description="started (UTC)", ordering="started_at")
    def started(self, saga: SagaInstance) -> str:
        return _clock(saga.started_at)

    @admin.display(description="took")
    def took(self, saga: SagaInstance) -> str:
        return _duration(saga.started_at, saga.ended_at)

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
        if _too_many(self, request, queryset, "Compensate"):
            return None
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
    list_display = ["step_attempt", "saga_order", "target", "status", "started", "outcome_short"]
    list_filter = ["status", "kind", "name"]
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

    @admin.display(description="attempt", ordering="name")
    def step_attempt(self, step: SagaStep) -> str:
        return f"{'↺ ' if step.kind == 'compensation' else ''}{step.name} #{step.attempt}"

    @admin.display(description="saga", ordering="saga__order_id")
    def saga_order(self, step: SagaStep) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:sagas_sagainstance_change", args=[step.saga_id]), step.saga.order_id
        )

    @admin.display(description="started (UTC)", ordering="started_at")
    def started(self, step: SagaStep) -> str:
        return _clock(step.started_at)

    @admin.display(description="took")
    def took(self, step: SagaStep) -> str:
        return _duration(step.started_at, step.finished_at)

    @admin.display(description="outcome")
    def outcome_short(self, step: SagaStep) -> str:
        return step.outcome if len(step.outcome) <= 48 else step.outcome[:47] + "…"

    @admin.display(description="saga")
    def saga_link(self, step: SagaStep) -> SafeString:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">timeline &rsaquo;</a>',
            reverse("admin:sagas_sagainstance_change", args=[step.saga_id]),
            step.saga.order_id,
            reverse("console:saga", args=[step.saga_id]),
        )
