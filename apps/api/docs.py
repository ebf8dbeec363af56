"""``/api/docs``: Swagger UI from the project's own static files, under the console's strict CSP.

django-ninja renders its CDN template unless ``ninja`` is an installed app, and the CSP
blocks both the CDN and that template's inline script. This page loads the vendored
bundle from ``static/vendor/swagger-ui`` and starts it from ``static/console/api-docs.js``
with its settings in a JSON data block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI


class LocalSwagger(DocsBase):
    """Swagger UI served from ``static/``.

    Deep links off: with them each operation's path is a link inside the operation's
    toggle button, a control nested in a control (axe-core's nested-interactive).
    """

    template = "api/docs.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {"layout": "BaseLayout", "deepLinking": False, "url": self.get_openapi_url(api, kwargs)}
        return render(request, self.template, {"swagger_settings": settings, "api": api})
