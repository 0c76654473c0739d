from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from delivery.models import StoreMembership
from frontend.selectors import store_pins_live


def home(request: HttpRequest) -> HttpResponse:
    # Store staff reach each of their stores' compliance page (licences, certificates, flags).
    memberships = (
        list(StoreMembership.objects.filter(user_id=request.user.pk).select_related("store").order_by("store_id"))
        if request.user.is_authenticated
        else []
    )
    return render(request, "frontend/home.html", {"store_pins": store_pins_live(), "staff_memberships": memberships})
