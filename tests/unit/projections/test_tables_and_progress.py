"""Index definitions matched across the swap, and the shape of rebuild progress messages."""

from __future__ import annotations

import uuid

from apps.messaging.push import REBUILD_GROUP
from apps.projections.models import OrderSummary, ProjectionRebuild
from apps.projections.progress import rebuild_progress_message
from apps.projections.tables import _rewrite, _signature, shadow_model, shadow_table_name


def test_index_signature_ignores_index_and_table_names_on_postgresql() -> None:
    live = (
        "CREATE INDEX proj_order_summary_status ON public.projections_order_summary"
        " USING btree (status, placed_at DESC)"
    )
    shadow = "CREATE INDEX rb_0123 ON public.projections_order_summary__shadow USING btree (status, placed_at DESC)"
    assert _signature(live) == _signature(shadow)
    pkey = (
        "CREATE UNIQUE INDEX projections_order_summary_pkey ON public.projections_order_summary USING btree (order_id)"
    )
    like = (
        "CREATE INDEX projections_order_summary_order_id_0f1a_like ON public.projections_order_summary"
        " USING btree (order_id varchar_pattern_ops)"
    )
    assert _signature(pkey) != _signature(like)


def test_index_signature_reads_sqlite_definitions() -> None:
    live = 'CREATE INDEX "proj_order_summary_placed" ON "projections_order_summary" ("placed_at" DESC)'
    assert _signature(live) == ("CREATE INDEX", '("placed_at" DESC)')


def test_rewrite_puts_the_definition_on_another_table_under_another_name() -> None:
    live = "CREATE INDEX proj_order_summary_status ON public.projections_order_summary USING btree (status)"
    assert _rewrite(live, name="rb_1", table='"t__shadow"') == 'CREATE INDEX rb_1 ON "t__shadow" USING btree (status)'


def test_shadow_model_has_the_same_columns_on_the_shadow_table() -> None:
    shadow = shadow_model(OrderSummary)
    assert shadow._meta.db_table == shadow_table_name(OrderSummary) == "projections_order_summary__shadow"
    assert [f.column for f in shadow._meta.concrete_fields] == [f.column for f in OrderSummary._meta.concrete_fields]
    assert not shadow._meta.indexes
    assert shadow_model(OrderSummary) is shadow


def test_progress_message_names_the_consumer_method_and_carries_the_numbers() -> None:
    job = ProjectionRebuild(
        id=uuid.uuid4(), projection="order_summary", status="running", events_done=50, events_total=200, rate=1234.56
    )
    job.eta_seconds = 0.12345
    message = rebuild_progress_message(job)
    assert REBUILD_GROUP == "push.rebuild"
    assert message["type"] == "rebuild.progress"
    assert (message["job_id"], message["events_done"], message["events_total"]) == (str(job.id), 50, 200)
    assert (message["rate"], message["eta_seconds"]) == (1234.6, 0.1)
