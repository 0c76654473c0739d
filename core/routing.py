from django.urls import path

from core.consumers import UserChannelConsumer

websocket_urlpatterns = [
    path("ws/me/", UserChannelConsumer.as_asgi()),
]
