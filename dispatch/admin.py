from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from dispatch.models import Courier


@admin.register(Courier)
class CourierAdmin(GISModelAdmin[Courier]):
    list_display = ("user", "vehicle", "state", "capacity", "position_at")
    list_filter = ("state", "vehicle")
    raw_id_fields = ("user",)
