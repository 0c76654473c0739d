"""Every WebSocket route of the project, gathered from the apps."""

from core.routing import websocket_urlpatterns as core_routes
from dispatch.routing import websocket_urlpatterns as dispatch_routes

websocket_urlpatterns = [*core_routes, *dispatch_routes]
