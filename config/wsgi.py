"""WSGI entry point: not used in production (Daphne serves HTTP and WebSockets); kept for the
WSGI baseline in bench/ and for tools that expect one."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
