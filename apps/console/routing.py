from django.urls import path

from apps.console.consumers import PushConsumer

websocket_urlpatterns = [
    # The one socket every page opens (apps.console.push_renderers.PUSH_SOCKET_PATH).
    path("ws/push/", PushConsumer.as_asgi()),
]
