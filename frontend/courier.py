"""The courier's web app (mobile first): one page whose state comes from the courier API
(`/api/v1/courier/...`) and whose live hints come from `/ws/courier/`; the page itself only
checks that the signed-in user is a courier and lays out the shell."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import access_courier
from dispatch.models import Courier, CourierProblem


@login_required
@require_GET
def courier_app(request: HttpRequest) -> HttpResponse:
    user = request.user
    courier = Courier.objects.filter(user_id=user.pk or 0).first()
    if courier is None or not access_courier(user, courier):
        raise PermissionDenied
    return render(
        request,
        "frontend/courier/app.html",
        {"courier": courier, "problem_kinds": CourierProblem.Kind.choices},
    )
