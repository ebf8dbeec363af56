"""Projections over the JSON API: status and lag, rebuilds and their progress.

Viewers read; starting or cancelling a rebuild needs the operator role (the API's default
auth checks it for POST, the services check again and write the audit log).
"""

# No postponed annotations here: ninja resolves the schemas at runtime.
import datetime as dt
import uuid
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Router, Schema

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
from eda_console.api_errors import ApiError

router = Router(tags=["projections"])
T = TypeVar("T")


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
    status: str = Field(..., description="ok, catching_up, stalled or rebuilding")
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

    @staticmethod
    def resolve_lag_seconds(obj: ProjectionStatus) -> float:
        return round(obj.lag_seconds, 3)


def _service(call: Callable[[], T]) -> T:
    try:
        return call()
    except PermissionDenied as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except UnknownProjection as exc:
        raise ApiError(404, "not_found", f"no projection is called {exc.args[0]!r}") from None
    except ProjectionRebuild.DoesNotExist:
        raise ApiError(404, "not_found", "no such rebuild job") from None
    except RebuildAlreadyActive as exc:
        raise ApiError(409, "rebuild_active", str(exc)) from None
    except RebuildNotCancellable as exc:
        raise ApiError(409, "not_cancellable", str(exc)) from None


@router.get("/projections", response=list[ProjectionOut], summary="Every projection: checkpoint, lag, status")
def projections_list(request: HttpRequest) -> list[ProjectionStatus]:
    return projection_status_list()


@router.post(
    "/projections/{name}/rebuild",
    response={202: RebuildOut},
    summary="Rebuild a read model from the event store (blue/green); answers with the job",
)
def projections_rebuild(request: HttpRequest, name: str) -> tuple[int, ProjectionRebuild]:
    job = _service(lambda: projection_rebuild_request(name=name, actor=request.user))  # type: ignore[arg-type]
    return 202, job


@router.get("/projections/rebuilds", response=list[RebuildOut], summary="Rebuild jobs, newest first")
def projections_rebuilds_list(request: HttpRequest, projection: str | None = None) -> list[ProjectionRebuild]:
    return list(projection_rebuild_list(name=projection))


@router.get("/projections/rebuilds/{uuid:job_id}", response=RebuildOut, summary="One rebuild job and its progress")
def projections_rebuild_detail(request: HttpRequest, job_id: uuid.UUID) -> ProjectionRebuild:
    return _service(lambda: projection_rebuild_get(job_id=job_id))


@router.post(
    "/projections/rebuilds/{uuid:job_id}/cancel",
    response=RebuildOut,
    summary="Cancel a queued or running rebuild; the live read model stays as it is",
)
def projections_rebuild_cancel(request: HttpRequest, job_id: uuid.UUID) -> ProjectionRebuild:
    return _service(lambda: projection_rebuild_cancel(job_id=job_id, actor=request.user))  # type: ignore[arg-type]
