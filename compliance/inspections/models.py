"""Inspections by regulators (or imported from open data) and the grades they give.

A grading scheme is a pure function chosen per jurisdiction (`compliance.inspections.schemes`):
`nyc` (points), `fhrs` (UK 0-5), `cn` (量化分级). A grade is `pending` while the merchant may
contest it, then `final`; the merchant's reply is shown beside it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Inspection(models.Model):
    class Kind(models.TextChoices):
        ROUTINE = "routine", _("Routine")
        FOLLOW_UP = "follow_up", _("Follow-up")
        COMPLAINT = "complaint", _("Complaint-driven")

    class GradeState(models.TextChoices):
        PENDING = "pending", _("Pending (may be contested)")
        FINAL = "final", _("Final")

    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, related_name="inspections")
    inspected_on = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.ROUTINE)
    scheme = models.CharField(_("scheme"), max_length=8)
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.IntegerField(_("score"), null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=32, blank=True)
    failed = models.BooleanField(_("failed"), default=False)
    grade_state = models.CharField(max_length=8, choices=GradeState.choices, default=GradeState.FINAL)
    # The last day the merchant may contest a pending grade; the beat sweep finalises it after.
    contest_until = models.DateField(null=True, blank=True)
    contested_at = models.DateTimeField(null=True, blank=True)
    merchant_reply = models.TextField(_("merchant's reply"), blank=True)
    merchant_reply_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    external_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("inspection")
        ordering = ["-inspected_on", "-id"]
        indexes = [
            models.Index(fields=["store", "-inspected_on"]),
            models.Index(fields=["grade_state", "contest_until"]),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.inspected_on} {self.grade}"


class InspectionEvent(models.Model):
    """One change of an inspection's grade state (recorded, contested, finalised): the history."""

    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=16)
    from_state = models.CharField(max_length=8, blank=True)
    to_state = models.CharField(max_length=8)
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class ViolationCode(models.Model):
    """A scheme's code list: what a regulator picks from on the inspection form."""

    scheme = models.CharField(_("scheme"), max_length=8)
    code = models.CharField(_("code"), max_length=16)
    description = models.CharField(_("description"), max_length=500)
    description_en = models.CharField(_("description (English)"), max_length=500, blank=True)
    points = models.PositiveSmallIntegerField(_("points"))
    critical = models.BooleanField(_("critical"), default=False)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("violation code")
        ordering = ["scheme", "code"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="violation_code_unique"),
            models.CheckConstraint(condition=Q(points__lte=100), name="violation_code_points_max"),
        ]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.code}"


class InspectionViolation(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="violations")
    code = models.CharField(_("code"), max_length=16)
    description = models.CharField(_("description"), max_length=500, blank=True)
    points = models.PositiveSmallIntegerField(_("points"), default=0)
    critical = models.BooleanField(_("critical"), default=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(points__lte=100), name="violation_points_max")]

    def __str__(self) -> str:
        return self.code
