from django.contrib import admin
from django.urls import include, path, re_path

from apps.api.errors import api_unknown_path
from eda_console.api import api

handler400 = "apps.console.views.errors.bad_request"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # [\s\S], not ".": a path may hold a newline (%0A), and it is still an API path.
    re_path(r"^api/(?P<path>[\s\S]*)$", api_unknown_path),
    path("metrics", include("apps.messaging.metrics")),
    # The embedded, read-only Confluent-compatible schema registry (SCHEMA_REGISTRY_URL empty).
    path("schema-registry/", include("apps.messaging.schema_registry.views")),
    path("", include("apps.console.urls")),
]
