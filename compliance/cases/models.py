"""A regulator's case about a store, and its append-only, hash-chained audit trail.

A case moves open -> triage -> review -> notice (the merchant has until `defence_due_at` to
answer) -> decision -> appeal -> closed, only through `compliance.cases.services`. Each action
writes one `CaseEvent`; each event stores the SHA-256 of the previous event's hash and its own
canonical content, so editing or deleting a row breaks the chain (`case_audit_verify`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        TRIAGE = "triage", _("Triage")
        REVIEW = "review", _("Under review")
        NOTICE = "notice", _("Notice sent")
        DECISION = "decision", _("Decided")
        APPEAL = "appeal", _("Under appeal")
        CLOSED = "closed", _("Closed")

    class Decision(models.TextChoices):
        NO_ACTION = "no_action", _("No action")
        WARNING = "warning", _("Warning")
        RECTIFICATION = "rectification", _("Rectify by a date")
        SUSPENSION = "suspension", _("Suspend")
        DELISTING = "delisting", _("Delist")
        DISHONEST_LIST = "dishonest_list", _("Dishonest list")

    class Source(models.TextChoices):
        FLAG = "flag", _("Flag")
        COMPLAINT = "complaint", _("Complaint")
        REGULATOR = "regulator", _("Regulator")

    class AppealOutcome(models.TextChoices):
        UPHELD = "upheld", _("Decision upheld")
        OVERTURNED = "overturned", _("Decision overturned")

    store = models.ForeignKey("delivery.Store", on_delete=models.PROTECT, related_name="cases")
    entity = models.ForeignKey(
        "compliance.LegalEntity", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    flag = models.ForeignKey("compliance.Flag", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases")
    complaint = models.ForeignKey(
        "compliance.Complaint", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    version = models.PositiveIntegerField(default=0)
    notice_text = models.TextField(_("notice"), blank=True)
    defence_due_at = models.DateTimeField(_("defence due"), null=True, blank=True)
    defence_text = models.TextField(_("defence"), blank=True)
    defence_filed_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(_("reasons for the decision"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    sanction = models.ForeignKey(
        "compliance.Sanction", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    appeal_due_at = models.DateTimeField(null=True, blank=True)
    appeal_text = models.TextField(_("appeal"), blank=True)
    appeal_filed_at = models.DateTimeField(null=True, blank=True)
    appeal_outcome = models.CharField(max_length=12, choices=AppealOutcome.choices, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The chain's head: the last event's seq and hash, so deleting the newest rows shows too.
    audit_seq = models.PositiveIntegerField(default=0)
    audit_head = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            # One case at a time per flag: reviewing a flag twice opens nothing new.
            models.UniqueConstraint(
                fields=["flag"], condition=~models.Q(status="closed"), name="case_one_open_per_flag"
            ),
            models.UniqueConstraint(
                fields=["complaint"], condition=~models.Q(status="closed"), name="case_one_open_per_complaint"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class CaseEvent(models.Model):
    """One action on a case. Rows are only ever inserted; `hash` chains them (see module doc)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor_role = models.CharField(max_length=16)
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("case event")
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"
