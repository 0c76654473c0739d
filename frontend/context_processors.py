from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.access import user_roles


def site(request: HttpRequest) -> dict[str, Any]:
    """What every page's chrome needs: the map tiles and the signed-in user's roles."""
    return {
        "MAP_TILE_URL": settings.MAP_TILE_URL,
        "MAP_TILE_ATTRIBUTION": settings.MAP_TILE_ATTRIBUTION,
        "user_roles": {role.value for role in user_roles(request.user)},
    }
