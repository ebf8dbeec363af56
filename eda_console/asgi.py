"""ASGI entry point: Django for HTTP, Channels for websockets (daphne serves both).

Websockets pass the allowed-hosts origin check and the session-based auth stack; each
consumer then checks the user's role itself.
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

from apps.console.routing import websocket_urlpatterns as console_websockets  # noqa: E402

# Daphne serves /static/ itself (through the staticfiles finders), so the run command and
# docker-compose need no separate file server.
application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([*console_websockets]))),
    }
)
