from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from frontend.selectors import store_pins_live


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/home.html", {"store_pins": store_pins_live()})
