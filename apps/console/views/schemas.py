"""The schema a record was written with, by its registry id: what the event and dead-letter views link to."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.console.permissions import viewer_required
from apps.console.views.common import page_context
from apps.messaging.schema_registry.catalogue import registry_schema_by_id, registry_subjects


@require_GET
@viewer_required
def schema_detail(request: HttpRequest, schema_id: int) -> HttpResponse:
    entry = registry_schema_by_id(schema_id)
    if entry is None:
        raise Http404(f"no schema with id {schema_id}")
    versions = registry_subjects().get(entry.subject, {})
    context = page_context(
        request,
        section="aggregates",
        entry=entry,
        versions=[versions[number] for number in sorted(versions)],
        registry_url=settings.SCHEMA_REGISTRY_URL,
        value_format=settings.KAFKA_VALUE_FORMAT,
    )
    return render(request, "console/schema.html", context)
