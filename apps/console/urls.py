from django.contrib.auth import views as auth_views
from django.urls import path

from apps.console.views import aggregates, audit, consumers, live, overview, projections, sagas, schemas, trace
from apps.console.views.dead_letters import actions as dead_letter_actions
from apps.console.views.dead_letters import pages as dead_letter_pages

app_name = "console"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("overview/tiles/", overview.overview_tiles, name="overview-tiles"),
    path("overview/status/", overview.overview_status, name="overview-status"),
    path("overview/charts/<slug:name>.json", overview.overview_chart, name="overview-chart"),
    path("live/", live.live_stream, name="live"),
    path("aggregates/", aggregates.aggregate_search, name="aggregates"),
    path("aggregates/stream/<path:stream_id>", aggregates.stream_detail, name="stream"),
    path("aggregates/state/<path:stream_id>", aggregates.stream_state, name="stream-state"),
    path("trace/", trace.trace, name="trace"),
    path("schemas/<int:schema_id>/", schemas.schema_detail, name="schema"),
    path("consumers/", consumers.consumers, name="consumers"),
    path("consumers/tables/", consumers.consumer_tables, name="consumer-tables"),
    path("consumers/lag.json", consumers.lag_chart, name="lag-chart"),
    path("consumers/projections/<str:name>/rebuild", consumers.projection_rebuild, name="projection-rebuild"),
    # Projections
    path("projections/", projections.projections, name="projections"),
    path("projections/tables/", projections.projection_tables, name="projection-tables"),
    path("projections/<str:name>/rebuild", projections.projection_rebuild_start, name="projection-rebuild-start"),
    path("projections/rebuilds/<uuid:job_id>/cancel", projections.rebuild_cancel, name="rebuild-cancel"),
    # Audit log
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_log_csv, name="audit-csv"),
    # Sagas
    path("sagas/", sagas.sagas, name="sagas"),
    path("sagas/<uuid:saga_id>/", sagas.saga, name="saga"),
    path("sagas/<uuid:saga_id>/timeline.json", sagas.saga_timeline, name="saga-timeline"),
    path("sagas/<uuid:saga_id>/preview/<slug:action>", sagas.saga_preview, name="saga-preview"),
    path("sagas/<uuid:saga_id>/<slug:action>", sagas.saga_action, name="saga-action"),
    # Dead letters
    path("dead-letters/", dead_letter_pages.dead_letter_index, name="dead-letters"),
    path("dead-letters/sequenced/", dead_letter_pages.dead_letter_sequenced, name="dead-letters-sequenced"),
    path("dead-letters/<int:dead_letter_id>/", dead_letter_pages.dead_letter_detail, name="dead-letter"),
    path("dead-letters/confirm/", dead_letter_actions.dead_letter_confirm, name="dead-letter-confirm"),
    path(
        "dead-letters/<int:dead_letter_id>/replay",
        dead_letter_actions.dead_letter_replay_one,
        name="dead-letter-replay",
    ),
    path(
        "dead-letters/<int:dead_letter_id>/replay-stream",
        dead_letter_actions.dead_letter_replay_its_stream,
        name="dead-letter-replay-stream",
    ),
    path("dead-letters/<int:dead_letter_id>/skip", dead_letter_actions.dead_letter_skip_one, name="dead-letter-skip"),
    path("dead-letters/replay-jobs/", dead_letter_actions.replay_job_start, name="dead-letter-replay-jobs"),
    path("dead-letters/replay-jobs/<uuid:job_id>/", dead_letter_pages.replay_job_detail, name="dead-letter-replay-job"),
    path(
        "dead-letters/replay-jobs/<uuid:job_id>/cancel",
        dead_letter_actions.replay_job_cancel,
        name="dead-letter-replay-job-cancel",
    ),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=False), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
]
