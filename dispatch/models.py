"""Couriers. Locations, offers and assignment arrive with the dispatch issue."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class Courier(models.Model):
    class Vehicle(models.TextChoices):
        BICYCLE = "bicycle", _("Bicycle")
        EBIKE = "ebike", _("E-bike")
        MOTORBIKE = "motorbike", _("Motorbike")
        CAR = "car", _("Car")

    class State(models.TextChoices):
        OFFLINE = "offline", _("Offline")
        IDLE = "idle", _("Idle")
        OFFERED = "offered", _("Offered")
        TO_STORE = "to_store", _("To store")
        AT_STORE = "at_store", _("At store")
        TO_CUSTOMER = "to_customer", _("To customer")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courier")
    vehicle = models.CharField(_("vehicle"), max_length=12, choices=Vehicle.choices, default=Vehicle.EBIKE)
    speed_kmh = models.PositiveSmallIntegerField(_("speed (km/h)"), default=15)
    capacity = models.PositiveSmallIntegerField(_("concurrent orders"), default=3)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.OFFLINE)
    # The last position flushed to PostGIS (the live one is kept where writes are cheap).
    position = models.PointField(_("position"), geography=True, srid=4326, null=True, blank=True)
    position_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return str(self.user)
