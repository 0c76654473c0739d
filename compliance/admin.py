"""Operators see the compliance records in Django's admin. Whatever has a state that moves only
through a service (licences, certificates, sanctions, complaints, flags) is read-only here; licences and
health certificates are verified or rejected by admin actions that call the services, so the
compare-and-swap, who and when, and the flag re-evaluation happen exactly as on the pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from compliance.models import (
    Complaint,
    Flag,
    HealthCertificate,
    LegalEntity,
    Licence,
    Sanction,
    StaffMember,
    StoreRegistration,
)
from compliance.services.certificates import CertificateRefused, health_certificate_verify
from compliance.services.licences import LicenceRefused, licence_verify


class ServiceOwnedAdmin[M: Any](admin.ModelAdmin[M]):
    """Every field read-only, no adding or deleting: the row changes only through its services
    (a licence's number or dates changed here would skip the review it must go back to); the
    actions below call them."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin[M: Any](admin.ModelAdmin[M]):
    """Viewable, never added, changed or deleted here: a service owns the row's state."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(admin.ModelAdmin[LegalEntity]):
    list_display = ("name", "uscc", "uscc_check", "legal_rep_name", "legal_rep_id_masked")
    list_filter = ("uscc_check",)
    search_fields = ("name", "uscc", "external_ref")
    # The hash binds sanctions to the person; the ID itself is never stored.
    readonly_fields = ("legal_rep_id_hash", "legal_rep_id_masked", "legal_rep_id_check", "uscc_check")


@admin.register(StoreRegistration)
class StoreRegistrationAdmin(admin.ModelAdmin[StoreRegistration]):
    list_display = ("store", "entity", "opened_on", "closed_on", "geocoded_address")
    search_fields = ("store__name_zh", "entity__name", "entity__uscc", "external_ref")
    raw_id_fields = ("store", "entity")
    readonly_fields = ("geocoded_location", "geocoded_address", "address_key")


@admin.register(Licence)
class LicenceAdmin(ServiceOwnedAdmin[Licence]):
    list_display = ("number", "kind", "store", "entity", "valid_to", "verification", "verified_by", "verified_at")
    list_filter = ("kind", "verification", "number_check")
    search_fields = ("number", "store__name_zh", "entity__name", "entity__uscc", "external_ref")
    actions = ("verify",)

    @admin.action(description=_("Verify the selected licences"))
    def verify(self, request: HttpRequest, queryset: QuerySet[Licence]) -> None:
        done = 0
        for licence in queryset:
            try:
                licence_verify(operator=request.user, licence=licence)  # type: ignore[arg-type]
                done += 1
            except LicenceRefused as refused:
                self.message_user(request, f"{licence.number}: {refused.message}", messages.ERROR)
        self.message_user(request, _("%(n)d licence(s) verified.") % {"n": done}, messages.SUCCESS)


class CertificateInline(admin.TabularInline[HealthCertificate, StaffMember]):
    model = HealthCertificate
    fk_name = "staff"
    extra = 0
    can_delete = False
    fields = ("number", "valid_from", "valid_to", "verification")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[StaffMember]):
    list_display = ("name", "store", "id_masked")
    search_fields = ("name", "store__name_zh", "external_ref")
    raw_id_fields = ("store", "user")
    readonly_fields = ("id_hash", "id_masked")
    inlines = (CertificateInline,)


@admin.register(HealthCertificate)
class HealthCertificateAdmin(ServiceOwnedAdmin[HealthCertificate]):
    list_display = ("number", "staff", "courier", "valid_to", "verification", "verified_by")
    list_filter = ("verification",)
    search_fields = ("number", "staff__name", "courier__username")
    actions = ("verify",)

    @admin.action(description=_("Verify the selected health certificates"))
    def verify(self, request: HttpRequest, queryset: QuerySet[HealthCertificate]) -> None:
        done = 0
        for certificate in queryset:
            try:
                health_certificate_verify(operator=request.user, certificate=certificate)  # type: ignore[arg-type]
                done += 1
            except CertificateRefused as refused:
                self.message_user(request, f"{certificate.number}: {refused.message}", messages.ERROR)
        self.message_user(request, _("%(n)d certificate(s) verified.") % {"n": done}, messages.SUCCESS)


@admin.register(Sanction)
class SanctionAdmin(ReadOnlyAdmin[Sanction]):
    list_display = ("kind", "store", "entity", "decided_on", "effective_until", "lifted_on")
    list_filter = ("kind",)
    search_fields = ("store__name_zh", "entity__name", "bound_uscc", "external_ref")


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdmin[Complaint]):
    list_display = ("pk", "store", "category", "status", "filed_at", "close_by", "closed_at")
    list_filter = ("category", "status")
    search_fields = ("store__name_zh", "text", "external_ref")


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin[Flag]):
    list_display = ("code", "severity", "status", "store", "entity", "raised_at", "resolved_at")
    list_filter = ("code", "severity", "status")
    search_fields = ("store__name_zh", "entity__name", "entity__uscc")
