"""Users and their roles.

One account may hold several roles at once; each role is a profile or a membership:
diner (DinerProfile), restaurant staff (delivery.StoreMembership, per store), courier
(dispatch.Courier), regulator (RegulatorProfile, with a jurisdiction) and operator (is_staff).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    DINER = "diner", _("Diner")
    STORE_STAFF = "store_staff", _("Restaurant staff")
    COURIER = "courier", _("Courier")
    REGULATOR = "regulator", _("Regulator")
    OPERATOR = "operator", _("Operator")


class User(AbstractUser):
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    # Phone numbers are matched by keyed hash and shown masked (core.identity); never stored clear.
    phone_hash = models.CharField(max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class DinerProfile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="diner_profile")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("diner")
        verbose_name_plural = _("diners")

    def __str__(self) -> str:
        return str(self.user)


class RegulatorProfile(models.Model):
    """A regulator acts only inside its jurisdiction: the district polygon."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="regulator_profile")
    agency = models.CharField(_("agency"), max_length=128)
    jurisdiction_name = models.CharField(_("jurisdiction"), max_length=64)
    district = models.MultiPolygonField(_("district"), srid=4326)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("regulator")
        verbose_name_plural = _("regulators")

    def __str__(self) -> str:
        return f"{self.user} ({self.jurisdiction_name})"
