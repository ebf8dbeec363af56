"""ASGI entry point for daphne: HTTP now; the console adds its websocket routes here."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eda_console.settings")
# Django must be set up before anything imports models (websocket consumers will).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

# Daphne serves /static/ itself (through the staticfiles finders), so the run command and
# docker-compose need no separate file server.
application = ProtocolTypeRouter({"http": ASGIStaticFilesHandler(django_asgi_app)})
