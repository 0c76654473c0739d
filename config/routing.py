"""Every WebSocket route of the project, gathered from the apps."""

from django.urls import path

from core.routing import websocket_urlpatterns as core_routes
from delivery.consumers import StoreBoardConsumer
from dispatch.routing import websocket_urlpatterns as dispatch_routes

websocket_urlpatterns = [
    *core_routes,
    path("ws/stores/<int:store_id>/board/", StoreBoardConsumer.as_asgi()),
    *dispatch_routes,
]
