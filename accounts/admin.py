from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.gis.admin import GISModelAdmin

from accounts.models import DinerProfile, RegulatorProfile, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Mingchu", {"fields": ("display_name", "phone_masked")}),
    )
    readonly_fields = ("phone_masked",)
    list_display = ("username", "display_name", "is_staff", "is_active")


@admin.register(DinerProfile)
class DinerProfileAdmin(admin.ModelAdmin[DinerProfile]):
    list_display = ("user", "created_at")
    raw_id_fields = ("user",)


@admin.register(RegulatorProfile)
class RegulatorProfileAdmin(GISModelAdmin[RegulatorProfile]):
    list_display = ("user", "agency", "jurisdiction_name")
    raw_id_fields = ("user",)
