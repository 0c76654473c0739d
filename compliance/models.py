"""Who stands behind a store, and what regulators know about them.

A legal entity (by its Unified Social Credit Code) runs stores; licences bind the entity (business
licence) and each store (food-business licence); staff and couriers hold health certificates;
sanctions and complaints are recorded against stores and entities; rules raise flags with
evidence. Personal ID numbers are kept only as a keyed hash (`core.identity.identity_hash`, purpose
"resident-id") plus a masked form. Inspections and grades live in `compliance.inspections`; cases
in their own module. Nothing here changes state in save() or signals: services do.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Verification(models.TextChoices):
    PENDING = "pending", _("Pending verification")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")


class NumberCheck(models.TextChoices):
    """The outcome of validating an identifier's structure and check character."""

    VALID = "valid", _("Valid")
    # The structure is right but the check character is not: a few early pilot credit codes are
    # legal yet fail GB 32100-2015's check, so these go to an operator, never silently either way.
    CHECK_FAILED = "check_failed", _("Check character fails (needs review)")
    MALFORMED = "malformed", _("Malformed")


class LegalEntity(models.Model):
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, db_index=True)
    uscc_check = models.CharField(max_length=12, choices=NumberCheck.choices, default=NumberCheck.VALID)
    legal_rep_name = models.CharField(_("legal representative"), max_length=100, blank=True)
    legal_rep_id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    legal_rep_id_masked = models.CharField(_("legal representative's ID"), max_length=24, blank=True)
    legal_rep_id_check = models.CharField(max_length=12, choices=NumberCheck.choices, blank=True)
    registered_address = models.CharField(_("registered address"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("legal entity")
        verbose_name_plural = _("legal entities")

    def __str__(self) -> str:
        return f"{self.name} ({self.uscc})"


class StoreRegistration(models.Model):
    """The compliance side of a marketplace store: its entity, external reference and dates.

    A one-to-one beside `delivery.Store`, so the marketplace's model stays free of compliance."""

    store = models.OneToOneField("delivery.Store", on_delete=models.CASCADE, related_name="registration")
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, null=True, blank=True, related_name="stores")
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    # 明厨亮灶: the public link of the store's open-kitchen video stream, where it has one.
    open_kitchen_url = models.URLField(_("open-kitchen stream"), blank=True)
    # Where the geocoder puts the store's claimed address (None: not found), and the address it
    # was computed for, so a changed address is geocoded again (PIN_MISMATCH compares it).
    geocoded_location = models.PointField(geography=True, srid=4326, null=True, blank=True)
    geocoded_address = models.CharField(max_length=255, blank=True)
    # The address in the form addresses are compared in (delivery.geocoding.normalise_address).
    address_key = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("store registration")

    def __str__(self) -> str:
        return f"{self.store} / {self.entity}"


class Licence(models.Model):
    class Kind(models.TextChoices):
        BUSINESS = "business", _("Business licence")  # 营业执照: the entity's credit code
        FOOD_BUSINESS = "food_business", _("Food-business licence")  # 食品经营许可证, per store

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    number = models.CharField(_("number"), max_length=32, db_index=True)
    number_check = models.CharField(max_length=12, choices=NumberCheck.choices, default=NumberCheck.VALID)
    entity = models.ForeignKey(LegalEntity, on_delete=models.CASCADE, null=True, blank=True, related_name="licences")
    store = models.ForeignKey(
        "delivery.Store", on_delete=models.CASCADE, null=True, blank=True, related_name="licences"
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)  # None: no expiry
    scan = models.FileField(_("scan"), upload_to="licences/", blank=True)
    verification = models.CharField(max_length=10, choices=Verification.choices, default=Verification.PENDING)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    # A new or changed licence must be reviewed by this time (7 days: CFDA Order 36's platform duty).
    review_due_at = models.DateTimeField(null=True, blank=True)
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="business", entity__isnull=False, store__isnull=True))
                | (Q(kind="food_business", store__isnull=False, entity__isnull=True)),
                name="licence_holder_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class StaffMember(models.Model):
    """A person working at a store's kitchen, with or without an account."""

    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    name = models.CharField(_("name"), max_length=100)
    id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    id_masked = models.CharField(_("ID number"), max_length=24, blank=True)
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("staff member")

    def __str__(self) -> str:
        return f"{self.name} @ {self.store_id}"


class HealthCertificate(models.Model):
    """健康证: one year of validity; held by a store's staff member or by a courier."""

    staff = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, null=True, blank=True, related_name="health_certificates"
    )
    courier = models.ForeignKey(
        "dispatch.Courier", on_delete=models.CASCADE, null=True, blank=True, related_name="health_certificates"
    )
    number = models.CharField(_("number"), max_length=40)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"))
    scan = models.FileField(_("scan"), upload_to="certificates/", blank=True)
    verification = models.CharField(max_length=10, choices=Verification.choices, default=Verification.PENDING)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    # Days-before-expiry reminders already sent (30, 7, 1), so a rerun of the sweep sends none twice.
    reminders_sent = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("health certificate")
        constraints = [
            models.CheckConstraint(
                condition=Q(staff__isnull=False, courier__isnull=True) | Q(staff__isnull=True, courier__isnull=False),
                name="health_certificate_one_holder",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Sanction(models.Model):
    """A sanction on a store or an entity. It carries the identifiers it was bound to when
    decided (credit code, legal representative's ID hash, licence numbers), so it follows a
    merchant who re-registers under another name or address."""

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        RECTIFICATION = "rectification", _("Rectify by a date")
        SUSPENSION = "suspension", _("Suspension")
        DELISTING = "delisting", _("Delisting")
        DISHONEST_LIST = "dishonest_list", _("Dishonest list")  # 严重违法失信名单
        ABNORMAL_OPERATION = "abnormal_operation", _("Abnormal operation list")  # 经营异常名录

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    store = models.ForeignKey(
        "delivery.Store", on_delete=models.PROTECT, null=True, blank=True, related_name="sanctions"
    )
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, null=True, blank=True, related_name="sanctions")
    decided_on = models.DateField(_("decided on"))
    effective_until = models.DateField(_("effective until"), null=True, blank=True)  # None: until lifted
    rectify_by = models.DateField(_("rectify by"), null=True, blank=True)
    lifted_on = models.DateField(_("lifted on"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The store's status before a suspension put it off the app, so the suspension's end puts it
    # back as it was (`paused` or `live`).
    store_status_before = models.CharField(max_length=20, blank=True, default="", db_default="")
    bound_uscc = models.CharField(max_length=18, blank=True, db_index=True)
    bound_legal_rep_id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    bound_licence_numbers = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    bound_names = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    bound_addresses = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sanction")
        constraints = [
            models.CheckConstraint(
                condition=Q(store__isnull=False) | Q(entity__isnull=False), name="sanction_has_subject"
            ),
        ]
        indexes = [models.Index(fields=["kind", "lifted_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.decided_on}"


class Complaint(models.Model):
    """A diner's complaint (from an order) or one imported from a registry."""

    class Category(models.TextChoices):
        FOOD_SAFETY = "food_safety", _("Food safety")
        HYGIENE = "hygiene", _("Hygiene")
        WRONG_ITEM = "wrong_item", _("Wrong or missing item")
        LATE = "late", _("Late delivery")
        COURIER_CONDUCT = "courier_conduct", _("Courier conduct")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        SOLUTION_PROPOSED = "solution_proposed", _("Solution proposed")
        CLOSED = "closed", _("Closed")

    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, related_name="complaints")
    order = models.ForeignKey(
        "delivery.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="complaints"
    )
    diner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="complaints"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    text = models.TextField(_("what happened"), blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    filed_at = models.DateTimeField(_("filed at"))
    # Deadlines from the field's service standards: acknowledged within 1 h, a proposed solution
    # within 24 h, closed within 48 h; each breach escalates once.
    acknowledge_by = models.DateTimeField(null=True, blank=True)
    solution_by = models.DateTimeField(null=True, blank=True)
    close_by = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    solution_proposed_at = models.DateTimeField(null=True, blank=True)
    solution = models.TextField(_("proposed solution"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    escalations = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("complaint")
        indexes = [models.Index(fields=["store", "filed_at"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.get_category_display()} @ {self.store_id}"


class ComplaintPhoto(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="complaints/")
    created_at = models.DateTimeField(auto_now_add=True)


class ExternalRating(models.Model):
    """A rating brought by a registry import (the platform's own are `delivery.Review`).
    A re-import replaces a store's imported ratings."""

    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, related_name="external_ratings")
    stars = models.PositiveSmallIntegerField()
    rated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["store", "rated_at"])]
        constraints = [models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="external_rating_stars")]


class MultiTenantSite(models.Model):
    """A place where many food businesses legitimately share one address (a food court)."""

    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=255)
    address_key = models.CharField(max_length=255, blank=True, db_index=True)  # normalise_address(address)
    location = models.PointField(geography=True, srid=4326)
    radius_m = models.PositiveIntegerField(default=60)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "address"], name="multi_tenant_site_unique")]

    def __str__(self) -> str:
        return self.name


class Flag(models.Model):
    """An open (or resolved) finding of one rule about one subject, with its evidence.

    At most one open flag per (code, store, entity); re-evaluation updates its evidence, and a
    flag whose cause is gone is resolved rather than deleted."""

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    code = models.CharField(max_length=32)
    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, null=True, blank=True, related_name="flags")
    entity = models.ForeignKey(LegalEntity, on_delete=models.CASCADE, null=True, blank=True, related_name="flags")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    raised_at = models.DateTimeField()
    evaluated_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("flag")
        constraints = [
            models.UniqueConstraint(
                fields=["code", "store", "entity"],
                condition=Q(status="open"),
                nulls_distinct=False,
                name="flag_open_unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "code"])]

    def __str__(self) -> str:
        return f"{self.code} {self.store_id or ''}{self.entity_id or ''}"
