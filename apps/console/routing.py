from django.urls import path

from apps.console.consumers import LagConsumer, LiveStreamConsumer, RebuildProgressConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveStreamConsumer.as_asgi()),
    path("ws/rebuilds/", RebuildProgressConsumer.as_asgi()),
    path("ws/lag/", LagConsumer.as_asgi()),
]
