"""``/metrics`` in the Prometheus text format, read from the database at scrape time.

Every figure comes from what the processes already record (store head, relay checkpoint,
projection checkpoints, dead letters, lag samples), so one scrape of any web node sees
the whole pipeline, whichever process did the work.

Access: Prometheus scrapers usually hold a token rather than a session, so a request is
let in with any of ``Authorization: Bearer <METRICS_TOKEN>`` (a setting; empty disables
it), ``Authorization: Bearer <API token>`` of a viewer, or a logged-in viewer's session.
Otherwise 401 (with ``WWW-Authenticate: Bearer``), or 403 for a user without the role.
Figures here (group names, counts) are operational, not business data, but they do map
the system, so they are not public.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from apps.accounts.roles import user_is_viewer
from apps.accounts.services import api_token_authenticate
from apps.eventstore.store import head_position
from apps.messaging.dead_letters.selectors import dead_letter_status_counts
from apps.messaging.lag.selectors import consumer_group_status_list, projection_lag_latest_list
from apps.messaging.lag.status import LagStatus
from apps.messaging.registry import projection_sources
from apps.messaging.relay.models import RelayCheckpoint


class PipelineCollector(Collector):
    """Yields every metric family from the database, at each scrape."""

    def collect(self) -> Iterator[Metric]:
        appended = CounterMetricFamily("eda_events_appended", "Events appended to the store (its head position).")
        appended.add_metric([], head_position())
        yield appended
        yield from _relay_families()
        yield from _projection_families()
        dead = GaugeMetricFamily("eda_dead_letters", "Dead letters by status.", labels=["status"])
        for status, count in sorted(dead_letter_status_counts().items()):
            dead.add_metric([status], count)
        yield dead
        yield from _lag_families()


def _relay_families() -> Iterator[Metric]:
    published = CounterMetricFamily(
        "eda_events_published", "Events the relay published and Kafka acknowledged (its checkpoint).", labels=["relay"]
    )
    for name, position in RelayCheckpoint.objects.values_list("name", "position").order_by("name"):
        published.add_metric([name], position)
    yield published


def _projection_families() -> Iterator[Metric]:
    applied = CounterMetricFamily(
        "eda_projection_events_applied", "Events applied to a projection's read model.", labels=["projection"]
    )
    position = GaugeMetricFamily(
        "eda_projection_checkpoint_position", "Highest store position a projection applied.", labels=["projection"]
    )
    for source in projection_sources():
        progress = source.progress_read()
        applied.add_metric([source.name], progress.applied_count)
        position.add_metric([source.name], progress.checkpoint_position)
    yield applied
    yield position
    lag_positions = GaugeMetricFamily(
        "eda_projection_lag_positions", "Store positions a projection is behind (latest sample).", labels=["projection"]
    )
    lag_seconds = GaugeMetricFamily(
        "eda_projection_lag_seconds", "Age of the oldest event not yet applied (latest sample).", labels=["projection"]
    )
    for row in projection_lag_latest_list():
        lag_positions.add_metric([row.projection], row.lag_positions)
        lag_seconds.add_metric([row.projection], row.lag_seconds)
    yield lag_positions
    yield lag_seconds


def _lag_families() -> Iterator[Metric]:
    labels = ["group", "topic"]
    lag = GaugeMetricFamily(
        "eda_consumer_group_lag", "Messages a consumer group is behind (latest sample).", labels=labels
    )
    partition_lag = GaugeMetricFamily(
        "eda_consumer_group_partition_lag",
        "Messages behind per partition (latest sample).",
        labels=[*labels, "partition"],
    )
    status = GaugeMetricFamily(
        "eda_consumer_group_status",
        "1 for the group's current Burrow-style status, 0 for the others.",
        labels=[*labels, "status"],
    )
    sampled = GaugeMetricFamily(
        "eda_consumer_group_sampled_timestamp_seconds", "When the group was last sampled (unix time).", labels=labels
    )
    for group in consumer_group_status_list():
        if group.sampled_at is None:
            continue
        key = [group.group_id, group.topic]
        if group.total_lag is not None:
            lag.add_metric(key, group.total_lag)
        for part in group.partitions:
            partition_lag.add_metric([*key, str(part.partition)], part.lag)
        for candidate in LagStatus:
            status.add_metric([*key, candidate.value], 1.0 if group.status == candidate.value else 0.0)
        sampled.add_metric(key, group.sampled_at.timestamp())
    yield from (lag, partition_lag, status, sampled)


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PipelineCollector())


def _access(request: HttpRequest) -> int:
    """200 to let the request in, else 401 (nobody known) or 403 (known, without the viewer role)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        expected = settings.METRICS_TOKEN
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return 200
        user = api_token_authenticate(token)
        if user is None:
            return 401
        return 200 if user_is_viewer(user) else 403
    if not request.user.is_authenticated:
        return 401
    return 200 if user_is_viewer(request.user) else 403


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of :class:`PipelineCollector`."""
    access = _access(request)
    if access == 401:
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if access == 403:
        return HttpResponse("the viewer role is required\n", status=403, content_type="text/plain")
    # Text format by default; OpenMetrics when the scraper asks for it.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(_registry), content_type=content_type)


# Mounted at /metrics by eda_console/urls.py: path("metrics", include("apps.messaging.metrics")).
urlpatterns = [path("", metrics, name="metrics")]
