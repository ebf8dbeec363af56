"""Projections over the JSON API: status and lag, rebuilds and their progress.

Viewers read; starting or cancelling a rebuild needs the operator role (the API's default
auth checks it for POST, the services check again and write the audit log). Services
raise; the errors are mapped once, in apps.api.errors' registry.
"""

# No postponed annotations here: ninja resolves the schemas at runtime.
import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status

from apps.api.errors import ErrorBodyOut, api_error_register
from apps.api.fields import Line, column_max_length
from apps.projections.models import ProjectionRebuild
from apps.projections.projectors import UnknownProjection
from apps.projections.rebuild import (
    RebuildAlreadyActive,
    RebuildNotCancellable,
    projection_rebuild_cancel,
    projection_rebuild_request,
)
from apps.projections.selectors import (
    ProjectionStatus,
    projection_rebuild_get,
    projection_rebuild_list,
    projection_status_list,
)

router = Router(tags=["projections"])

api_error_register(
    UnknownProjection, status=404, code="not_found", message=lambda exc: f"no projection is called {exc.args[0]!r}"
)
api_error_register(
    ProjectionRebuild.DoesNotExist, status=404, code="not_found", message=lambda exc: "no such rebuild job"
)
api_error_register(RebuildAlreadyActive, status=409, code="rebuild_active")
api_error_register(RebuildNotCancellable, status=409, code="not_cancellable")

PROJECTION_MAX = column_max_length(ProjectionRebuild, "projection")
PROJECTION_NAME = Path(..., max_length=PROJECTION_MAX)
PROJECTION_FILTER = Query(None, max_length=PROJECTION_MAX)


class RebuildOut(Schema):
    job_id: uuid.UUID
    projection: str
    status: str = Field(..., description="queued, running, swapping, done, cancelled or failed")
    events_done: int = Field(..., description="Stored events read so far")
    events_total: int = Field(..., description="Stored events to read (grows while appends go on)")
    applied_count: int = Field(..., description="Events the projection handled among those read")
    rate: float = Field(..., description="Events per second since the start")
    eta_seconds: float | None
    requested_by: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str

    @staticmethod
    def resolve_job_id(obj: ProjectionRebuild) -> uuid.UUID:
        return obj.id


class ProjectionOut(Schema):
    name: str
    description: str
    consumer_group: str
    event_types: list[str]
    status: str = Field(..., description="ok, catching_up, stalled, blocked (dead letters parked) or rebuilding")
    generation: int
    checkpoint_position: int = Field(..., description="Highest position applied")
    applied_count: int
    checkpoint_updated_at: dt.datetime | None
    head_position: int
    lag_positions: int = Field(
        ..., description="Head position minus the highest position at or below which every handled event is applied"
    )
    lag_seconds: float = Field(..., description="Age of the oldest handled event not yet applied (0 when none)")
    last_rebuild: RebuildOut | None
    dead_letters_parked: int = Field(..., description="Dead letters of its consumer group waiting")

    @staticmethod
    def resolve_lag_seconds(obj: ProjectionStatus) -> float:
        return round(obj.lag_seconds, 3)


@router.get("/projections", response=list[ProjectionOut], summary="Every projection: checkpoint, lag, status")
def projections_list(request: HttpRequest) -> list[ProjectionStatus]:
    return projection_status_list()


@router.post(
    "/projections/{name}/rebuild",
    response={202: RebuildOut, 409: ErrorBodyOut},
    summary="Rebuild a read model from the event store (blue/green); answers with the job",
)
def projections_rebuild(request: HttpRequest, name: Line = PROJECTION_NAME) -> Status[ProjectionRebuild]:
    job = projection_rebuild_request(name=name, actor=request.user)  # type: ignore[arg-type]
    return Status(202, job)


@router.get("/projections/rebuilds", response=list[RebuildOut], summary="Rebuild jobs, newest first")
def projections_rebuilds_list(
    request: HttpRequest, projection: Line | None = PROJECTION_FILTER
) -> list[ProjectionRebuild]:
    return list(projection_rebuild_list(name=projection))


@router.get("/projections/rebuilds/{uuid:job_id}", response=RebuildOut, summary="One rebuild job and its progress")
def projections_rebuild_detail(request: HttpRequest, job_id: uuid.UUID) -> ProjectionRebuild:
    return projection_rebuild_get(job_id=job_id)


@router.post(
    "/projections/rebuilds/{uuid:job_id}/cancel",
    response={200: RebuildOut, 409: ErrorBodyOut},
    summary="Cancel a queued or running rebuild; the live read model stays as it is",
)
def projections_rebuild_cancel(request: HttpRequest, job_id: uuid.UUID) -> ProjectionRebuild:
    return projection_rebuild_cancel(job_id=job_id, actor=request.user)  # type: ignore[arg-type]
