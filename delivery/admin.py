from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from delivery.models import Store, StoreMembership


class StoreMembershipInline(admin.TabularInline[StoreMembership, Store]):
    model = StoreMembership
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Store)
class StoreAdmin(GISModelAdmin[Store]):
    list_display = ("name_zh", "name_en", "status", "address")
    list_filter = ("status",)
    search_fields = ("name_zh", "name_en", "address")
    inlines = [StoreMembershipInline]
