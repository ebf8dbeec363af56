from django.contrib.auth import views as auth_views
from django.urls import path

from apps.console.views import aggregates, consumers, live, overview, schemas, trace

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
    path("consumers/rebuilds/<uuid:job_id>/cancel", consumers.rebuild_cancel, name="rebuild-cancel"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=False), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
]
