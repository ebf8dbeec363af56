"""ASGI entry point: Django for HTTP, Channels for websockets (daphne serves both).

Websockets pass the allowed-hosts origin check and the session-based auth stack; each
consumer then checks the user's role itself. A handshake on a path no route knows is
refused with close code 4404 (the router alone would fail it with a 500).
"""

import os

from django.core.asgi import get_asgi_application

from eda_console.request_line import request_line_limit_answer_install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")
request_line_limit_answer_install()
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.urls import re_path  # noqa: E402

from apps.console.consumers import UnknownPathConsumer  # noqa: E402
from apps.console.routing import websocket_urlpatterns as console_websockets  # noqa: E402

# Daphne serves /static/ itself (through the staticfiles finders), so the run command and
# docker-compose need no separate file server.
# Last: any path the apps' routes do not know is refused by a consumer, not by a 500.
websocket_routes = [*console_websockets, re_path(r"", UnknownPathConsumer.as_asgi())]
application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_routes))),
    }
)
