"""The restaurant's pages: the live order board, kitchen tickets, the menu's sold-out switches,
performance, reconciliation (with CSV), reviews with replies, and the store's settings.

Views parse input, check access (staff of the store through `access_store`; settings and the
menu editor for owners and managers) and call the marketplace's selectors and services. The
board itself is a page of JavaScript (board.js) over the board API and the store's socket.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import STORE_ROLES_ALL, STORE_ROLES_MANAGE, access_store
from accounts.models import User
from delivery.models import MenuItem, Order, Review, SetMeal, Store, StoreMembership
from delivery.pricing import format_yuan
from delivery.selectors.board import StorePerformance, board_store_data, order_pickup_at, store_performance
from delivery.selectors.reconciliation import reconciliation_days
from delivery.services import board as svc
from delivery.services.reviews import ReviewRefused, review_reply
from delivery.services.stores import (
    SettingsRefused,
    StoreRefused,
    store_fee_bands_set,
    store_hours_exception_delete,
    store_hours_exception_set,
    store_hours_set,
)
from delivery.services.zones import ZoneInvalid, store_zone_set, store_zone_set_radius
from delivery.tickets import ticket_escpos, ticket_text

BOARD_STRINGS = {
    "accept": gettext_lazy("Accept"),
    "reject": gettext_lazy("Reject"),
    "start": gettext_lazy("Start cooking"),
    "ready": gettext_lazy("Ready"),
    "pickedUp": gettext_lazy("Picked up"),
    "delivered": gettext_lazy("Delivered"),
    "reprint": gettext_lazy("Print ticket"),
    "minutes": gettext_lazy("min"),
    "late": gettext_lazy("Late"),
    "acceptBy": gettext_lazy("Accept within"),
    "pickup": gettext_lazy("Pickup"),
    "note": gettext_lazy("Note"),
    "newOrders": gettext_lazy("new"),
    "open": gettext_lazy("Live"),
    "reconnecting": gettext_lazy("Reconnecting…"),
    "refused": gettext_lazy("Not allowed"),
    "connecting": gettext_lazy("Connecting…"),
    "paused": gettext_lazy("Paused"),
    "pausedUntil": gettext_lazy("Paused until"),
    "taking": gettext_lazy("Taking orders"),
    "busy": gettext_lazy("Busy"),
    "courier": gettext_lazy("Courier assigned"),
    "looking": gettext_lazy("Looking for a courier"),
    "lookingFor": gettext_lazy("for"),
    "foodWaiting": gettext_lazy("food waiting"),
    "offered": gettext_lazy("Offered to a courier"),
    "secondsLeft": gettext_lazy("s left"),
    "pool": gettext_lazy("In the open pool"),
    "declined": gettext_lazy("refused"),
    "courierToStore": gettext_lazy("on the way"),
    "away": gettext_lazy("distance"),
    "courierAtStore": gettext_lazy("at the store"),
    "courierToCustomer": gettext_lazy("on the way to the customer"),
    "min": gettext_lazy("min"),
    "status_suspended": gettext_lazy("Suspended by the regulator: not taking orders"),
    "status_closed": gettext_lazy("Closed by the regulator: not taking orders"),
    "reason_manual": gettext_lazy("paused by the store"),
    "reason_no_board": gettext_lazy("no board was connected"),
    "reason_missed_orders": gettext_lazy("orders were missed in a row"),
    "allergens": gettext_lazy("Allergens"),
    "failed": gettext_lazy("That did not work; the board was refreshed."),
}


def store_staff_required(
    roles: frozenset[str] = STORE_ROLES_ALL,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Anonymous visitors go to log in; anyone not holding one of `roles` at the store gets 404
    (the store's existence is not disclosed). The view receives the user and the store."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, store_id: int, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            store = Store.objects.filter(pk=store_id).first()
            if (
                store is None
                or not isinstance(request.user, User)
                or not access_store(request.user, store, roles=roles)
            ):
                raise Http404
            return view(request, request.user, store, *args, **kwargs)

        return wrapper

    return decorate


@require_GET
def board_index(request: HttpRequest) -> HttpResponse:
    """The stores the user works at: straight to the board when there is one."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    memberships = list(StoreMembership.objects.filter(user_id=request.user.pk).select_related("store"))
    if len(memberships) == 1:
        return redirect("frontend:board", store_id=memberships[0].store_id)
    return render(request, "frontend/board/index.html", {"memberships": memberships})


def _manager(user: User, store: Store) -> bool:
    return access_store(user, store, roles=STORE_ROLES_MANAGE)


@require_GET
@store_staff_required()
def board_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """The live board: columns new / accepted / preparing / ready / picked up (board.js)."""
    config = {
        "storeId": store.pk,
        "api": reverse("api-board", args=[store.pk]),
        "ws": f"/ws/stores/{store.pk}/board/",
        "ticketUrl": reverse("frontend:board_ticket", args=[store.pk, "NUMBER"]),
        "store": board_store_data(store),
    }
    return render(
        request,
        "frontend/board/board.html",
        {
            "store": store,
            "config": config,
            "manager": _manager(user, store),
            "i18n": {k: str(v) for k, v in BOARD_STRINGS.items()},
        },
    )


@require_GET
@store_staff_required()
def ticket_page(request: HttpRequest, user: User, store: Store, number: str) -> HttpResponse:
    """The kitchen ticket's print layout (also the board's print frame). `?format=text` gives
    the plain text, `?format=escpos` the bytes for an ESC/POS printer."""
    order = Order.objects.filter(store=store, number=number).prefetch_related("lines").first()
    if order is None:
        raise Http404
    fmt = request.GET.get("format", "")
    if fmt == "text":
        return HttpResponse(ticket_text(order), content_type="text/plain; charset=utf-8")
    if fmt == "escpos":
        response = HttpResponse(ticket_escpos(order), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="ticket-{order.number}.bin"'
        return response
    pickup = order_pickup_at(order)
    return render(
        request,
        "frontend/board/ticket.html",
        {"store": store, "order": order, "lines": list(order.lines.all()), "pickup_at": pickup},
    )


# --- Menu: sold out ----------------------------------------------------------------------------


def menu_context(request: HttpRequest, store: Store, *, manager: bool) -> dict[str, Any]:
    """The menu page's dishes (with options and sold-out switches) and set meals."""
    items = (
        MenuItem.objects.filter(store=store)
        .select_related("category")
        .prefetch_related("option_groups__options")
        .order_by("category__position", "position", "id")
    )
    meals = SetMeal.objects.filter(store=store).select_related("category").prefetch_related("components__item")
    return {"store": store, "items": items, "set_meals": meals, "manager": manager}


@require_GET
@store_staff_required()
def menu_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """Every dish with its options and sold-out switches; for the owner and managers, the
    editor's categories and set meals too (frontend.board_menu)."""
    if _manager(user, store):
        from frontend.board_menu import menu_editor_page

        return menu_editor_page(request, store)
    return render(request, "frontend/board/menu.html", menu_context(request, store, manager=False))


@require_POST
@store_staff_required()
def menu_sold_out(request: HttpRequest, user: User, store: Store, kind: str, object_id: int) -> HttpResponse:
    mode = request.POST.get("mode", "")
    try:
        hours = int(request.POST.get("hours") or 0) or None
    except ValueError:
        hours = None
    try:
        if kind == "item":
            svc.item_sold_out_set(user=user, store_id=store.pk, item_id=object_id, mode=mode, hours=hours)
        else:
            svc.option_sold_out_set(user=user, store_id=store.pk, option_id=object_id, mode=mode, hours=hours)
    except svc.BoardRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Saved."))
    return redirect("frontend:board_menu", store_id=store.pk)


# --- Performance and reconciliation -----------------------------------------------------------


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        start = date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        start = today - timedelta(days=6)
    try:
        end = date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        end = today
    if end < start:
        start, end = end, start
    return start, min(end, start + timedelta(days=366))


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@require_GET
@store_staff_required()
def performance_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """Acceptance rate, prep time against the promise, late orders and ratings for a period."""
    start, end = _period(request)
    perf = store_performance(store=store, start=_local_midnight(start), end=_local_midnight(end + timedelta(days=1)))
    rate = f"{perf.acceptance_rate:.0%}" if perf.acceptance_rate is not None else "—"
    if request.GET.get("format") == "csv":
        return _performance_csv(store, start, end, perf)
    return render(
        request,
        "frontend/board/performance.html",
        {"store": store, "perf": perf, "rate": rate, "start": start, "end": end},
    )


PERFORMANCE_COLUMNS = (
    "day",
    "orders",
    "accepted",
    "rejected",
    "auto_rejected",
    "acceptance_rate",
    "mean_prep_minutes",
    "mean_promised_minutes",
    "late_ready",
    "ratings",
    "mean_rating",
)


def _performance_row(label: str, perf: StorePerformance) -> list[object]:
    def fixed(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    return [
        label,
        perf.orders,
        perf.accepted,
        perf.rejected,
        perf.auto_rejected,
        fixed(perf.acceptance_rate, 4),
        fixed(perf.mean_prep_minutes, 1),
        fixed(perf.mean_promised_minutes, 1),
        perf.late_ready,
        perf.ratings,
        fixed(perf.mean_rating, 2),
    ]


def _performance_csv(store: Store, start: date, end: date, total: StorePerformance) -> HttpResponse:
    """The performance figures per day of the period (local days), then the whole period."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="performance-{store.pk}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(PERFORMANCE_COLUMNS)
    day = start
    while day <= end:
        perf = store_performance(store=store, start=_local_midnight(day), end=_local_midnight(day + timedelta(days=1)))
        writer.writerow(_performance_row(day.isoformat(), perf))
        day += timedelta(days=1)
    writer.writerow(_performance_row("total", total))
    return response


RECONCILIATION_COLUMNS = ("day", "orders", "gross", "store_discount", "commission", "refunds", "payout")


def _yuan_plain(cents: int) -> str:
    """Exact yuan with two decimals, for spreadsheets (no currency sign)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@require_GET
@store_staff_required(STORE_ROLES_MANAGE)
def reconciliation_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """对账: per business day, orders, gross, commission, refunds and payout (`?format=csv`)."""
    start, end = _period(request)
    days = reconciliation_days(store=store, start=start, end=end)
    totals = {
        "orders": sum(d.orders for d in days),
        "gross": sum(d.gross_cents for d in days),
        "store_discount": sum(d.store_discount_cents for d in days),
        "commission": sum(d.commission_cents for d in days),
        "refunds": sum(d.refunds_cents for d in days),
        "payout": sum(d.payout_cents for d in days),
    }
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="reconciliation-{store.pk}-{start}-{end}.csv"'
        writer = csv.writer(response)
        writer.writerow(RECONCILIATION_COLUMNS)
        for d in days:
            writer.writerow(
                [
                    d.day.isoformat(),
                    d.orders,
                    *map(
                        _yuan_plain,
                        [d.gross_cents, d.store_discount_cents, d.commission_cents, d.refunds_cents, d.payout_cents],
                    ),
                ]
            )
        writer.writerow(
            [
                "total",
                totals["orders"],
                *map(
                    _yuan_plain,
                    [
                        totals["gross"],
                        totals["store_discount"],
                        totals["commission"],
                        totals["refunds"],
                        totals["payout"],
                    ],
                ),
            ]
        )
        return response
    rows = [
        {
            "day": d.day,
            "orders": d.orders,
            "gross": format_yuan(d.gross_cents),
            "discount": format_yuan(d.store_discount_cents),
            "commission": format_yuan(d.commission_cents),
            "refunds": format_yuan(d.refunds_cents),
            "payout": format_yuan(d.payout_cents),
        }
        for d in days
    ]
    shown = {k: (v if k == "orders" else format_yuan(v)) for k, v in totals.items()}
    return render(
        request,
        "frontend/board/reconciliation.html",
        {"store": store, "rows": rows, "totals": shown, "start": start, "end": end},
    )


# --- Reviews ----------------------------------------------------------------------------------


@require_GET
@store_staff_required()
def reviews_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    reviews = Review.objects.filter(store=store).select_related("order").order_by("-created_at")[:100]
    return render(
        request, "frontend/board/reviews.html", {"store": store, "reviews": reviews, "manager": _manager(user, store)}
    )


@require_POST
@store_staff_required(STORE_ROLES_MANAGE)
def review_reply_post(request: HttpRequest, user: User, store: Store, review_id: int) -> HttpResponse:
    review = Review.objects.filter(store=store, pk=review_id).first()
    if review is None:
        raise Http404
    try:
        review_reply(user=user, review=review, text=request.POST.get("text", ""))
    except ReviewRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Reply posted."))
    return redirect("frontend:board_reviews", store_id=store.pk)


# --- Settings ----------------------------------------------------------------------------------


class StoreSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Store
        fields = [
            "default_prep_minutes",
            "min_order_cents",
            "packaging_fee_cents",
            "delivery_radius_m",
            "self_delivery",
        ]


class ZoneForm(forms.Form):
    """A zone drawn on the map: GeoJSON of a polygon in longitude/latitude."""

    zone_geojson = forms.CharField(widget=forms.HiddenInput)

    def clean_zone_geojson(self) -> GEOSGeometry:
        raw = self.cleaned_data["zone_geojson"]
        try:
            geometry = GEOSGeometry(raw, srid=4326)
        except (ValueError, GEOSException, GDALException) as error:
            raise forms.ValidationError(_("Draw the zone on the map: at least three points.")) from error
        return geometry


class HoursForm(forms.Form):
    """One opening period per line: weekday (0 Monday … 6 Sunday), opens, closes."""

    hours = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label=gettext_lazy("Opening hours"))

    def clean_hours(self) -> list[tuple[int, time, time]]:
        periods = []
        for number, line in enumerate(self.cleaned_data["hours"].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                day, opens, closes = line.split()
                periods.append((int(day), time.fromisoformat(opens), time.fromisoformat(closes)))
            except ValueError as error:
                raise forms.ValidationError(
                    _("Line %(n)s: write a weekday 0-6, then opening and closing times, e.g. 0 10:00 22:00.")
                    % {"n": number}
                ) from error
            if not 0 <= periods[-1][0] <= 6:
                raise forms.ValidationError(_("Line %(n)s: the weekday is 0 (Monday) to 6 (Sunday).") % {"n": number})
        if not periods:
            raise forms.ValidationError(_("Give at least one opening period."))
        return periods


class FeeBandForm(forms.Form):
    up_to_m = forms.IntegerField(label=gettext_lazy("Up to (m)"), min_value=1)
    fee_cents = forms.IntegerField(label=gettext_lazy("Fee (cents)"), min_value=1)


FeeBandFormSet = forms.formset_factory(FeeBandForm, extra=1, can_delete=True, max_num=20)


class HoursExceptionForm(forms.Form):
    """A date with other hours: closed all day, or opening and closing times."""

    date = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    closed = forms.BooleanField(label=gettext_lazy("Closed all day"), required=False)
    opens = forms.TimeField(label=gettext_lazy("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    closes = forms.TimeField(
        label=gettext_lazy("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    note = forms.CharField(label=gettext_lazy("Note"), max_length=128, required=False)


def _bands_save(user: User, store: Store, formset: Any) -> bool:
    """Save the fee bands of a valid formset through the service; put a refusal on its row."""
    rows = [f for f in formset.forms if f.has_changed() and not f.cleaned_data.get("DELETE")]
    try:
        store_fee_bands_set(
            user=user,
            store_id=store.pk,
            bands=[(f.cleaned_data["up_to_m"], f.cleaned_data["fee_cents"]) for f in rows],
        )
    except SettingsRefused as refused:
        target = rows[refused.row or 0] if rows else formset.forms[0]
        target.add_error(refused.field, refused.message)
        return False
    except StoreRefused as refused:
        raise Http404 from refused
    return True


def _exception_save(user: User, store: Store, form: HoursExceptionForm) -> bool:
    data = form.cleaned_data
    try:
        store_hours_exception_set(
            user=user,
            store_id=store.pk,
            day=data["date"],
            closed=data["closed"],
            opens=data["opens"],
            closes=data["closes"],
            note=data["note"],
        )
    except SettingsRefused as refused:
        form.add_error(refused.field, refused.message)
        return False
    except StoreRefused as refused:
        raise Http404 from refused
    return True


@require_http_methods(["GET", "POST"])
@store_staff_required(STORE_ROLES_MANAGE)
def settings_page(request: HttpRequest, user: User, store: Store) -> HttpResponse:
    """Prep time, fees, own riders; the delivery zone by radius or drawn on the map; opening
    hours. Owners and managers only."""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = StoreSettingsForm(request.POST if action == "store" else None, instance=store)
    zone_form = ZoneForm(request.POST if action == "zone" else None)
    current_hours = "\n".join(
        f"{h.weekday} {h.opens:%H:%M} {h.closes:%H:%M}" for h in store.opening_hours.order_by("weekday", "opens")
    )
    hours_form = HoursForm(request.POST if action == "hours" else None, initial={"hours": current_hours})
    if action == "store" and form.is_valid():
        saved = form.save()
        if "delivery_radius_m" in form.changed_data and saved.delivery_radius_m:
            store_zone_set_radius(store=saved, radius_m=saved.delivery_radius_m)
        messages.success(request, _("Saved."))
        return redirect("frontend:board_settings", store_id=store.pk)
    if action == "zone" and zone_form.is_valid():
        try:
            store_zone_set(store=store, zone=zone_form.cleaned_data["zone_geojson"])
        except ZoneInvalid as invalid:
            zone_form.add_error("zone_geojson", invalid.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("frontend:board_settings", store_id=store.pk)
    if action == "hours" and hours_form.is_valid():
        store_hours_set(store=store, periods=hours_form.cleaned_data["hours"])
        messages.success(request, _("Saved."))
        return redirect("frontend:board_settings", store_id=store.pk)
    bands_initial = [{"up_to_m": b.up_to_m, "fee_cents": b.fee_cents} for b in store.fee_bands.order_by("up_to_m")]
    bands_formset = FeeBandFormSet(
        request.POST if action == "bands" else None,
        prefix="bands",
        initial=None if action == "bands" else bands_initial,
    )
    if action == "bands" and bands_formset.is_valid() and _bands_save(user, store, bands_formset):
        messages.success(request, _("Saved."))
        return redirect("frontend:board_settings", store_id=store.pk)
    exception_form = HoursExceptionForm(request.POST if action == "exception" else None, prefix="exc")
    if action == "exception" and exception_form.is_valid() and _exception_save(user, store, exception_form):
        messages.success(request, _("Saved."))
        return redirect("frontend:board_settings", store_id=store.pk)
    if action == "exception_delete":
        try:
            exception_id = int(request.POST.get("exception_id") or 0)
        except ValueError:
            exception_id = 0
        store_hours_exception_delete(user=user, store_id=store.pk, exception_id=exception_id)
        messages.success(request, _("Deleted."))
        return redirect("frontend:board_settings", store_id=store.pk)
    context: dict[str, Any] = {
        "store": store,
        "form": form,
        "zone_form": zone_form,
        "hours_form": hours_form,
        "zone_geojson": store.zone.geojson if store.zone else "",
        "pin": [store.location.y, store.location.x],
        "bands": [(b.up_to_m, format_yuan(b.fee_cents)) for b in store.fee_bands.order_by("up_to_m")],
        "bands_formset": bands_formset,
        "exception_form": exception_form,
        "exceptions": store.hours_exceptions.filter(date__gte=timezone.localdate()).order_by("date"),
        "settings_deadline": settings.ORDER_ACCEPT_DEADLINE_MINUTES,
    }
    return render(request, "frontend/board/settings.html", context)
