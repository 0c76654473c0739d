"""Stores and their staff. Menus, carts, orders and payments arrive with the marketplace issue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Store(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_REVIEW = "pending_review", _("Pending review")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    name_zh = models.CharField(_("name (Chinese)"), max_length=128)
    name_en = models.CharField(_("name (English)"), max_length=128, blank=True)
    address = models.CharField(_("address"), max_length=255)
    location = models.PointField(_("map pin"), geography=True, srid=4326)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    default_prep_minutes = models.PositiveSmallIntegerField(_("default prep time (minutes)"), default=15)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the active language, falling back to the Chinese name."""
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh


class StoreMembership(models.Model):
    """A user's role at one store; restaurant staff act only on stores they are members of."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")
        STAFF = "staff", _("Staff")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("store membership")
        verbose_name_plural = _("store memberships")
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="store_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store} ({self.role})"
