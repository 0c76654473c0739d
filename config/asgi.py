"""ASGI entry point served by Daphne: HTTP through Django, WebSockets through Channels.

WebSockets pass the origin check against ALLOWED_HOSTS, then session authentication; each
consumer then authorises the user for what it serves.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from core.asgi import get_pooled_asgi_application

# Django must be set up before anything imports models (the consumers do). HTTP requests run
# their sync code on a small pool of long-lived threads, so database connections persist.
django_asgi_app = get_pooled_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
