"""Admin for dead letters, their attempts and bulk replay jobs, failure rules, lag samples and relay checkpoints.

Every change goes through the same service functions as the console and the API (so it
is role-checked and audited): dead letters are replayed or skipped with admin actions,
failure rules switched on and off; nothing is edited or deleted in place.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.eventstore.admin import CappedCountPaginator, ReadOnlyAdmin, console_link
from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterNotReplayable,
    DeadLetterReplayJob,
    FailureRule,
    dead_letter_replay,
    dead_letter_skip,
    failure_rule_disable,
    failure_rule_enable,
)
from apps.messaging.dead_letters.models import DeadLetterAttempt
from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample, ProjectionLagSample
from apps.messaging.relay.models import RelayCheckpoint

# The console's dead-letter pages (a plain path: messaging sits below the console).
DEAD_LETTER_CONSOLE_PATH = "/dead-letters/"


def _refused(model_admin: admin.ModelAdmin, request: HttpRequest, exc: Exception) -> None:
    model_admin.message_user(request, str(exc), messages.ERROR)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "group_id",
        "status",
        "stream_id",
        "position",
        "event_type",
        "error_class",
        "fingerprint",
        "attempts",
        "head",
        "last_failed_at",
    )
    list_filter = ("status", "group_id", "event_type", "error_class", ("last_failed_at", admin.DateFieldListFilter))
    search_fields = ("=stream_id", "=position", "error_message", "=id")
    search_help_text = "Exact stream id, position or id, or words of the error message."
    ordering = ("-id",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = (
        "console",
        "group_id",
        "status",
        "stream_id",
        "position",
        "event_type",
        "topic",
        "partition",
        "offset",
        "blocked_by",
        "error_class",
        "error_message",
        "traceback_block",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "skip_reason",
        "resolved_at",
        "resolved_by",
        "dlq_published_at",
        "created_at",
    )
    fields = readonly_fields
    actions = ["replay_selected", "skip_selected"]

    def view_on_site(self, dead_letter: DeadLetter) -> str:
        return f"{DEAD_LETTER_CONSOLE_PATH}{dead_letter.pk}/"

    @admin.display(description="console")
    def console(self, dead_letter: DeadLetter) -> SafeString:
        return console_link(f"{DEAD_LETTER_CONSOLE_PATH}{dead_letter.pk}/")

    @admin.display(description="head", boolean=True)
    def head(self, dead_letter: DeadLetter) -> bool:
        return dead_letter.blocked_by_id is None

    @admin.display(description="traceback")
    def traceback_block(self, dead_letter: DeadLetter) -> SafeString:
        return format_html("<pre>{}</pre>", dead_letter.traceback)

    @admin.action(description="Replay the selected dead letters (audited)")
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        outcomes: dict[str, int] = {}
        for dead_letter_id in queryset.order_by("position").values_list("pk", flat=True):
            try:
                result = dead_letter_replay(dead_letter_id=dead_letter_id, actor=request.user)
            except PermissionDenied as exc:
                _refused(self, request, exc)
                return
            except DeadLetterNotReplayable as exc:
                outcomes["not replayable"] = outcomes.get("not replayable", 0) + 1
                self.message_user(request, str(exc), messages.WARNING)
                continue
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        summary = ", ".join(f"{outcome}: {count}" for outcome, count in sorted(outcomes.items()))
        self.message_user(request, f"Replay: {summary or 'nothing selected'}.", messages.SUCCESS)

    @admin.action(description="Skip the selected dead letters with a reason (audited)")
    def skip_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()
        if "apply" not in request.POST or not reason:
            # The intermediate page asks for the reason; it posts back to this action.
            context = {
                **self.admin_site.each_context(request),
                "title": "Skip dead letters",
                "dead_letters": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "missing_reason": "apply" in request.POST,
            }
            return TemplateResponse(request, "admin/messaging/dead_letter_skip.html", context)
        skipped = 0
        for dead_letter_id in queryset.values_list("pk", flat=True):
            try:
                dead_letter_skip(dead_letter_id=dead_letter_id, reason=reason, actor=request.user)
            except (PermissionDenied, ValidationError) as exc:
                _refused(self, request, exc)
                return None
            skipped += 1
        self.message_user(request, f"Skipped {skipped} dead letter(s): {reason}", messages.SUCCESS)
        return None


@admin.register(FailureRule)
class FailureRuleAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "group_id",
        "kind",
        "effect",
        "field",
        "pattern",
        "probability",
        "delay_ms",
        "enabled",
        "created_by",
        "updated_at",
    )
    list_filter = ("enabled", "kind", "effect", "group_id")
    search_fields = ("group_id", "pattern", "created_by")
    readonly_fields = (
        "group_id",
        "kind",
        "field",
        "pattern",
        "probability",
        "effect",
        "delay_ms",
        "enabled",
        "created_by",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    actions = ["enable_selected", "disable_selected"]

    def _switch(self, request: HttpRequest, queryset: QuerySet[FailureRule], *, enabled: bool) -> None:
        switch = failure_rule_enable if enabled else failure_rule_disable
        for rule_id in queryset.values_list("pk", flat=True):
            try:
                switch(rule_id=rule_id, actor=request.user)
            except PermissionDenied as exc:
                _refused(self, request, exc)
                return
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {queryset.count()} rule(s).")

    @admin.action(description="Switch the selected rules on (audited)")
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[FailureRule]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description="Switch the selected rules off (audited)")
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[FailureRule]) -> None:
        self._switch(request, queryset, enabled=False)


@admin.register(DeadLetterAttempt)
class DeadLetterAttemptAdmin(ReadOnlyAdmin):
    list_display = ("id", "dead_letter", "at", "by", "tries", "error_class")
    list_filter = ("by", "error_class", ("at", admin.DateFieldListFilter))
    search_fields = ("=dead_letter__id", "error_message")
    ordering = ("-id",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(DeadLetterReplayJob)
class DeadLetterReplayJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "status",
        "requested_by",
        "requested_at",
        "total",
        "replayed",
        "failed_again",
        "new_dead_letters",
        "rate_limit",
    )
    list_filter = ("status", "requested_by")
    search_fields = ("=id", "requested_by")
    ordering = ("-requested_at",)


@admin.register(ConsumerGroupState)
class ConsumerGroupStateAdmin(ReadOnlyAdmin):
    list_display = ("group_id", "topic", "status", "total_lag", "reason", "sampled_at", "last_commit_at")
    list_filter = ("status", "topic")
    search_fields = ("group_id",)


@admin.register(ConsumerGroupSample)
class ConsumerGroupSampleAdmin(ReadOnlyAdmin):
    list_display = ("sampled_at", "group_id", "topic", "status", "total_lag", "reason")
    list_filter = ("status", "group_id", ("sampled_at", admin.DateFieldListFilter))
    search_fields = ("=group_id",)
    ordering = ("-sampled_at",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(ConsumerLagSample)
class ConsumerLagSampleAdmin(ReadOnlyAdmin):
    list_display = ("sampled_at", "group_id", "partition", "end_offset", "committed_offset", "lag", "status")
    list_filter = ("status", "group_id", ("sampled_at", admin.DateFieldListFilter))
    search_fields = ("=group_id",)
    ordering = ("-sampled_at",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(ProjectionLagSample)
class ProjectionLagSampleAdmin(ReadOnlyAdmin):
    list_display = ("sampled_at", "projection", "head_position", "checkpoint_position", "lag_positions", "lag_seconds")
    list_filter = ("projection", ("sampled_at", admin.DateFieldListFilter))
    ordering = ("-sampled_at",)
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(RelayCheckpoint)
class RelayCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("name", "position", "updated_at")
    search_fields = ("name",)
