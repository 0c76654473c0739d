"""The diner's pages: delivery address, stores that deliver there, a store's menu, cart and
checkout, the order's live status, order history, and after delivery: rating the order and
asking for a refund.

Views parse input, check access (a signed-in, active diner: `access_diner`) and call the
marketplace's selectors and services; what they show is shaped here into small view models
(money already formatted with `format_yuan`, names in the active language), so templates only
lay it out.

The chosen delivery address (label, lat, lng) and the last few used live in the session: a
diner may browse before saving any address to an account. Checkout is idempotent per rendered
form: the cart page mints an Idempotency key (uuid4) into the form, and a retried or
double-clicked "Place order" finds the order that key already placed instead of placing another.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Concatenate

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, F, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget
from geopy.exc import GeopyError

from accounts.access import access_diner
from accounts.models import User
from compliance.inspections.selectors import StoreBadge, store_badges
from delivery.geocoding import get_geocoder
from delivery.hours import store_is_open
from delivery.models import (
    Allergen,
    Cart,
    CartLine,
    IdempotencyRecord,
    MenuCategory,
    MenuItem,
    Option,
    OptionGroup,
    Order,
    OrderLine,
    RefundRequest,
    Review,
    SetMeal,
    Store,
    bilingual,
)
from delivery.payments.base import PaymentRefused
from delivery.payments.services import payment_start
from delivery.pricing import FeeBand, LineInput, PricingError, PricingInput, format_yuan, price_order
from delivery.selectors.discovery import delivery_quote_for, stores_delivering_to
from delivery.services.aftersales import AftersalesRefused, refund_request_create
from delivery.services.carts import cart_clear, cart_line_add, cart_line_requests, cart_line_set_quantity, cart_reorder
from delivery.services.orders import LineRequest, OrderRefused, PlaceRequest, order_place, order_quote
from delivery.services.reviews import ReviewRefused, review_create
from delivery.transitions import ACTIVE

SESSION_ADDRESS = "diner_address"
SESSION_RECENT = "diner_recent_addresses"
RECENT_MAX = 5
# The id of an element a failed "Add" writes its message into (sent by the page's form).
_SLOT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_DEFAULT_ERROR_SLOT = "cart-bar-error"

# --- Access --------------------------------------------------------------------------------


def diner_required[**P](
    view: Callable[Concatenate[HttpRequest, User, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Anonymous visitors go to the login page (and come back); signed-in non-diners get 403.
    The view receives the diner as its second argument."""

    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not access_diner(request.user) or not isinstance(request.user, User):
            raise PermissionDenied
        return view(request, request.user, *args, **kwargs)

    return wrapper


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _english() -> bool:
    return (get_language() or "").startswith("en")


# --- The delivery address (session) --------------------------------------------------------


@dataclass(frozen=True)
class ChosenAddress:
    label: str
    lat: float
    lng: float

    @property
    def point(self) -> Point:
        return Point(self.lng, self.lat, srid=4326)

    def as_session(self) -> dict[str, Any]:
        return {"label": self.label, "lat": self.lat, "lng": self.lng}

    @classmethod
    def from_session(cls, raw: object) -> ChosenAddress | None:
        """The stored address, or None when missing or malformed (an old session)."""
        if not isinstance(raw, dict):
            return None
        label, lat, lng = raw.get("label"), raw.get("lat"), raw.get("lng")
        if not isinstance(label, str) or not label:
            return None
        if not isinstance(lat, int | float) or not isinstance(lng, int | float):
            return None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            return None
        return cls(label=label, lat=float(lat), lng=float(lng))


def _address_get(request: HttpRequest) -> ChosenAddress | None:
    return ChosenAddress.from_session(request.session.get(SESSION_ADDRESS))


def _recent_get(request: HttpRequest) -> list[ChosenAddress]:
    raw = request.session.get(SESSION_RECENT)
    found = [ChosenAddress.from_session(entry) for entry in raw] if isinstance(raw, list) else []
    return [address for address in found if address is not None][:RECENT_MAX]


def _address_set(request: HttpRequest, address: ChosenAddress) -> None:
    """Make `address` the current one and the first of the recent ones (no duplicates)."""
    recent = [a for a in _recent_get(request) if a.label != address.label]
    request.session[SESSION_ADDRESS] = address.as_session()
    request.session[SESSION_RECENT] = [a.as_session() for a in [address, *recent][:RECENT_MAX]]


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _address_required(request: HttpRequest) -> HttpResponseRedirect:
    """Send the diner to choose an address, then back here."""
    return HttpResponseRedirect(f"{reverse('frontend:address')}?{urlencode({'next': request.get_full_path()})}")


class AddressForm(forms.Form):
    address = forms.CharField(
        label=gettext_lazy("Delivery address"),
        max_length=255,
        required=False,
        widget=forms.TextInput(
            attrs={
                "placeholder": gettext_lazy("Street and number, e.g. 南京西路1601号"),
                "autocomplete": "street-address",
                "data-testid": "address-input",
            }
        ),
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        located = data.get("lat") is not None and data.get("lng") is not None
        if not located and not (data.get("address") or "").strip():
            self.add_error("address", _("Type your address, or use “Locate me”."))
        return data


def _geocode(query: str) -> ChosenAddress | None:
    location = get_geocoder().geocode(query)
    if location is None:
        return None
    return ChosenAddress(label=str(location.address), lat=float(location.latitude), lng=float(location.longitude))


def _reverse_geocode(lat: float, lng: float) -> ChosenAddress:
    """The nearest known address as the label; else the coordinates themselves."""
    location = get_geocoder().reverse((lat, lng))
    label = str(location.address) if location is not None else _("Near %(lat).5f, %(lng).5f") % {"lat": lat, "lng": lng}
    return ChosenAddress(label=label, lat=lat, lng=lng)


@diner_required
@require_http_methods(["GET", "POST"])
def address_page(request: HttpRequest, diner: User) -> HttpResponse:
    """Choose where to deliver: type an address (geocoded), "Locate me" (the browser's position,
    reverse-geocoded for a label), or one of the recently used ones."""
    recent = _recent_get(request)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    status = 200
    if request.method == "POST" and "recent" in request.POST:
        try:
            chosen = recent[int(request.POST["recent"])]
        except (ValueError, IndexError):
            chosen = None
        if chosen is not None:
            _address_set(request, chosen)
            return redirect(next_url or "frontend:stores")
        form = AddressForm(initial={"next": next_url or ""})
        status = 400
    elif request.method == "POST":
        form = AddressForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["lat"] is not None and data["lng"] is not None:
                    found: ChosenAddress | None = _reverse_geocode(data["lat"], data["lng"])
                else:
                    found = _geocode(data["address"].strip())
            except GeopyError:
                form.add_error("address", _("The address service is not answering; try again in a moment."))
            else:
                if found is None:
                    form.add_error(
                        "address",
                        _("We could not find this address. Check the street and number, or use “Locate me”."),
                    )
                else:
                    _address_set(request, found)
                    return redirect(next_url or "frontend:stores")
        status = 400
    else:
        form = AddressForm(initial={"next": next_url or ""})
    context = {"form": form, "current": _address_get(request), "recent": recent, "next": next_url or ""}
    return render(request, "frontend/diner/address.html", context, status=status)


# --- Store list ----------------------------------------------------------------------------

SORTS: tuple[tuple[str, Any], ...] = (
    ("distance", gettext_lazy("Nearest")),
    ("rating", gettext_lazy("Top rated")),
    ("eta", gettext_lazy("Fastest")),
    ("fee", gettext_lazy("Lowest fee")),
)


def _distance_text(metres: int) -> str:
    if metres < 1000:
        return _("%(m)d m") % {"m": metres}
    return _("%(km).1f km") % {"km": metres / 1000}


@dataclass(frozen=True)
class StoreCardView:
    store: Store
    eta_minutes: int
    fee: str
    min_order: str
    rating: str | None
    rating_count: int
    distance: str
    badge: StoreBadge | None = None  # hygiene grade, licence and open kitchen (compliance)


@diner_required
@require_GET
def stores_page(request: HttpRequest, diner: User) -> HttpResponse:
    """The stores that deliver to the chosen address now, sorted as asked."""
    address = _address_get(request)
    if address is None:
        return redirect("frontend:address")
    sort = request.GET.get("sort", "distance")
    if sort not in dict(SORTS):
        sort = "distance"
    found = stores_delivering_to(address.point, sort=sort)
    badges = store_badges([card.store.pk for card in found])  # one query for every card
    cards = [
        StoreCardView(
            store=card.store,
            eta_minutes=card.eta_minutes,
            fee=format_yuan(card.delivery_fee_cents),
            min_order=format_yuan(card.min_order_cents),
            rating=f"{card.rating:.1f}" if card.rating is not None else None,
            rating_count=card.store.rating_count,
            distance=_distance_text(card.distance_m),
            badge=badges.get(card.store.pk),
        )
        for card in found
    ]
    context = {"address": address, "cards": cards, "sort": sort, "sorts": SORTS}
    return render(request, "frontend/diner/stores.html", context)


# --- Store page and its menu ---------------------------------------------------------------


@dataclass(frozen=True)
class OptionView:
    option: Option
    name: str
    delta_cents: int
    delta: str  # "+¥3.00", "-¥1.00" or ""
    available: bool


@dataclass(frozen=True)
class GroupView:
    group: OptionGroup
    name: str
    multiple: bool  # checkboxes (max > 1) rather than radios
    min_choices: int
    max_choices: int
    rule: str
    options: list[OptionView]


@dataclass(frozen=True)
class DishView:
    item: MenuItem
    name: str
    price_cents: int
    price: str
    allergens: list[str]
    groups: list[GroupView]
    available: bool


@dataclass(frozen=True)
class SetMealView:
    meal: SetMeal
    name: str
    price: str
    components: list[str]
    allergens: list[str]
    available: bool


@dataclass(frozen=True)
class CategoryView:
    category: MenuCategory
    name: str
    dishes: list[DishView]
    set_meals: list[SetMealView]


def _delta_text(cents: int) -> str:
    if cents == 0:
        return ""
    return format_yuan(cents) if cents < 0 else f"+{format_yuan(cents)}"


def _choice_rule(min_choices: int, max_choices: int) -> str:
    if min_choices == max_choices:
        return ngettext("Choose %(n)d", "Choose %(n)d", min_choices) % {"n": min_choices}
    if min_choices == 0:
        return ngettext("Optional, up to %(n)d", "Optional, up to %(n)d", max_choices) % {"n": max_choices}
    return _("Choose %(min)d to %(max)d") % {"min": min_choices, "max": max_choices}


_ALLERGEN_LABELS = dict(Allergen.choices)


def _allergen_labels(codes: Iterable[str]) -> list[str]:
    return [str(_ALLERGEN_LABELS.get(code, code)) for code in codes]


def _store_menu(store: Store) -> list[CategoryView]:
    """The store's menu by category: dishes with their option groups, then set meals."""
    categories = MenuCategory.objects.filter(store=store).prefetch_related(
        Prefetch(
            "items",
            queryset=MenuItem.objects.order_by("position", "id").prefetch_related("option_groups__options"),
        ),
        Prefetch("set_meals", queryset=SetMeal.objects.prefetch_related("components__item")),
    )
    menu: list[CategoryView] = []
    for category in categories:
        dishes = [
            DishView(
                item=item,
                name=item.display_name,
                price_cents=item.price_cents,
                price=format_yuan(item.price_cents),
                allergens=_allergen_labels(item.allergens),
                available=item.available,
                groups=[
                    GroupView(
                        group=group,
                        name=group.display_name,
                        multiple=group.max_choices > 1,
                        min_choices=group.min_choices,
                        max_choices=group.max_choices,
                        rule=_choice_rule(group.min_choices, group.max_choices),
                        options=[
                            OptionView(
                                option=option,
                                name=option.display_name,
                                delta_cents=option.price_delta_cents,
                                delta=_delta_text(option.price_delta_cents),
                                available=option.available,
                            )
                            for option in group.options.all()
                        ],
                    )
                    for group in item.option_groups.all()
                ],
            )
            for item in category.items.all()
        ]
        meals = [
            SetMealView(
                meal=meal,
                name=meal.display_name,
                price=format_yuan(meal.price_cents),
                components=[f"{c.quantity} × {c.item.display_name}" for c in meal.components.all()],
                allergens=_allergen_labels(sorted({a for c in meal.components.all() for a in c.item.allergens})),
                available=meal.available and all(c.item.available for c in meal.components.all()),
            )
            for meal in category.set_meals.all()
        ]
        if dishes or meals:
            menu.append(CategoryView(category=category, name=category.display_name, dishes=dishes, set_meals=meals))
    return menu


# --- The cart, as the pages show it --------------------------------------------------------


@dataclass(frozen=True)
class CartLineView:
    line: CartLine
    name: str
    details: list[str]  # chosen options, or a set meal's components
    quantity: int
    unit: str
    total: str
    total_cents: int


@dataclass(frozen=True)
class CartView:
    store: Store
    lines: list[CartLineView] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def subtotal(self) -> str:
        return format_yuan(self.subtotal_cents)

    @property
    def missing_for_minimum(self) -> str | None:
        """How much more reaches the store's minimum order, or None once it is reached."""
        missing = self.store.min_order_cents - self.subtotal_cents
        return format_yuan(missing) if missing > 0 else None


def _cart_for(diner: User, store: Store) -> tuple[Cart | None, CartView]:
    """The diner's cart at `store` and its lines priced by the marketplace's pricing function
    (items only: fees, minimum and coupon are checkout's, through order_quote)."""
    cart = (
        Cart.objects.filter(diner=diner, store=store)
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=CartLine.objects.select_related("item", "set_meal").prefetch_related(
                    "set_meal__components__item"
                ),
            )
        )
        .first()
    )
    if cart is None:
        return None, CartView(store=store)
    lines = list(cart.lines.all())
    option_ids = {pk for line in lines for pk in line.option_ids}
    options = {o.pk: o for o in Option.objects.filter(pk__in=option_ids).select_related("group")}
    inputs: list[LineInput] = []
    details: list[list[str]] = []
    for line in lines:
        chosen = [options[pk] for pk in line.option_ids if pk in options]
        base = line.item.price_cents if line.item else line.set_meal.price_cents if line.set_meal else 0
        inputs.append(
            LineInput(
                unit_base_cents=base,
                option_deltas_cents=tuple(o.price_delta_cents for o in chosen),
                quantity=line.quantity,
            )
        )
        if line.set_meal is not None:
            details.append([f"{c.quantity} × {c.item.display_name}" for c in line.set_meal.components.all()])
        else:
            details.append([f"{o.group.display_name}: {o.display_name}" for o in chosen])
    if not lines:
        return cart, CartView(store=store)
    try:
        priced = price_order(
            PricingInput(
                lines=tuple(inputs),
                packaging_fee_cents=0,
                min_order_cents=0,
                fee_bands=(FeeBand(up_to_m=0, fee_cents=0),),
                distance_m=0,
            )
        )
    except PricingError:
        # A line that cannot be priced (an option's delta below zero): checkout will say why.
        units, totals = [0] * len(lines), [0] * len(lines)
    else:
        units, totals = list(priced.unit_prices_cents), list(priced.line_totals_cents)
    views = [
        CartLineView(
            line=line,
            name=line.item.display_name if line.item else line.set_meal.display_name if line.set_meal else "",
            details=detail,
            quantity=line.quantity,
            unit=format_yuan(unit),
            total=format_yuan(total),
            total_cents=total,
        )
        for line, detail, unit, total in zip(lines, details, units, totals, strict=True)
    ]
    return cart, CartView(store=store, lines=views)


# --- Store page and adding to the cart -----------------------------------------------------


@diner_required
@require_GET
def store_page(request: HttpRequest, diner: User, store_id: int) -> HttpResponse:
    """A live store's menu, whether it is open now, its minimum order and fees (to the chosen
    address when there is one), and the diner's cart bar."""
    store = get_object_or_404(
        Store.objects.prefetch_related("fee_bands", "opening_hours"), pk=store_id, status=Store.Status.LIVE
    )
    address = _address_get(request)
    quote = delivery_quote_for(store, address.point) if address else None
    try:
        open_dish = int(request.GET.get("dish", ""))
    except ValueError:
        open_dish = None
    _cart, cart = _cart_for(diner, store)
    context = {
        "store": store,
        "is_open": store_is_open(store, timezone.now()),
        "min_order": format_yuan(store.min_order_cents),
        "packaging_fee": format_yuan(store.packaging_fee_cents),
        "fee_bands": [(_distance_text(b.up_to_m), format_yuan(b.fee_cents)) for b in store.fee_bands.all()],
        "address": address,
        "delivery_fee": format_yuan(quote[1]) if quote else None,
        "distance": _distance_text(quote[0]) if quote else None,
        "menu": _store_menu(store),
        "cart": cart,
        "open_dish": open_dish,
        "rating": f"{store.rating_mean:.1f}" if store.rating_mean is not None else None,
        # The board's controls, shown at once (they are read on every request).
        "paused": store.paused_at(timezone.now()),
        "paused_until": store.paused_until if store.paused_at(timezone.now()) else None,
        "busy_minutes": store.busy_extra_minutes,
        "badge": store_badges([store.pk]).get(store.pk),
    }
    return render(request, "frontend/diner/store.html", context)


class AddLineForm(forms.Form):
    item_id = forms.IntegerField(required=False, min_value=1)
    set_meal_id = forms.IntegerField(required=False, min_value=1)
    quantity = forms.IntegerField(required=False, min_value=1, max_value=99)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("item_id") is None) == (data.get("set_meal_id") is None):
            raise forms.ValidationError(_("Choose one dish or one set meal."))
        try:
            data["option_ids"] = tuple(int(v) for v in self._option_values() if v != "")
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Choose options from the list.")) from None
        return data

    def _option_values(self) -> list[str]:
        """Checkboxes post `option_ids`; each single-choice group posts `option_ids.<group id>`
        (radios need a name per group)."""
        if not isinstance(self.data, QueryDict):
            return []
        return [
            value
            for key in self.data
            if key == "option_ids" or key.startswith("option_ids.")
            for value in self.data.getlist(key)
        ]

    def line(self) -> LineRequest:
        data = self.cleaned_data
        return LineRequest(
            item_id=data.get("item_id"),
            set_meal_id=data.get("set_meal_id"),
            option_ids=data["option_ids"],
            quantity=data.get("quantity") or 1,
        )


@diner_required
@require_POST
def cart_add(request: HttpRequest, diner: User, store_id: int) -> HttpResponse:
    """Add a dish (with its options) or a set meal to the cart.

    htmx: answers the cart bar; a refusal answers its message (status 400) into the element
    the form names in `error_slot` (the options dialog, or the bar). Without JS: back to the
    store page with a message."""
    store = get_object_or_404(Store, pk=store_id, status=Store.Status.LIVE)
    form = AddLineForm(request.POST)
    error: str | None = None
    if form.is_valid():
        try:
            cart_line_add(diner=diner, store=store, line=form.line())
        except OrderRefused as refused:
            error = refused.message
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    store_url = reverse("frontend:store", args=[store.pk])
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
            item_id = form.cleaned_data.get("item_id") if hasattr(form, "cleaned_data") else None
            return redirect(f"{store_url}?dish={item_id}" if item_id else store_url)
        messages.success(request, _("Added to your cart."))
        return redirect(store_url)
    if error:
        slot = request.POST.get("error_slot", "")
        slot = slot if _SLOT_ID.fullmatch(slot) else _DEFAULT_ERROR_SLOT
        response = render(request, "frontend/diner/_add_error.html", {"message": error}, status=400)
        return reswap(retarget(response, f"#{slot}"), "innerHTML")
    _cart, cart = _cart_for(diner, store)
    return render(request, "frontend/diner/_cart_bar.html", {"cart": cart, "store": store, "just_added": True})


# --- Cart and checkout ---------------------------------------------------------------------

PHONE_PATTERN = r"^\+?[\d\s-]{7,20}$"


class CheckoutForm(forms.Form):
    contact_name = forms.CharField(
        label=gettext_lazy("Contact name"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "name", "data-testid": "contact-name"}),
    )
    contact_phone = forms.RegexField(
        label=gettext_lazy("Phone"),
        regex=PHONE_PATTERN,
        max_length=20,
        error_messages={"invalid": gettext_lazy("Enter a phone number, e.g. 138 1234 5678.")},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "data-testid": "contact-phone"}),
    )
    address_detail = forms.CharField(
        label=gettext_lazy("Building, floor, room"),
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"data-testid": "address-detail"}),
    )
    note = forms.CharField(
        label=gettext_lazy("Note to the restaurant"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "data-testid": "note"}),
    )
    coupon_code = forms.CharField(
        label=gettext_lazy("Coupon code"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-testid": "coupon-input"}),
    )
    idempotency_key = forms.CharField(max_length=128, widget=forms.HiddenInput)


FIELD_NAMES = ("contact_name", "contact_phone", "address_detail", "note", "coupon_code", "idempotency_key")


def _typed(request: HttpRequest) -> dict[str, str]:
    """What the diner typed into the checkout form, as they typed it (to show it again)."""
    return {name: request.POST.get(name, "") for name in FIELD_NAMES}


def _refusal_slot(refused: OrderRefused) -> str:
    """Where a refusal is shown on the cart page: by the lines, the coupon, the address, or on top."""
    where = refused.field or ""
    if where == "lines" or where.startswith("lines.") or where == "quantity":
        return "lines"
    if where == "coupon_code":
        return "coupon_code"
    if where == "delivery_address":
        return "delivery_address"
    return "general"


@dataclass(frozen=True)
class Totals:
    subtotal: str
    packaging: str
    delivery_fee: str
    discount: str | None
    total: str
    distance: str


def _place_request(*, store: Store, cart: Cart | None, address: ChosenAddress, values: dict[str, str]) -> PlaceRequest:
    detail = values.get("address_detail", "").strip()
    return PlaceRequest(
        store_id=store.pk,
        lines=cart_line_requests(cart) if cart is not None else (),
        delivery_address=f"{address.label} {detail}".strip()[:255],
        delivery_lat=address.lat,
        delivery_lng=address.lng,
        contact_name=values.get("contact_name", "").strip()[:64],
        contact_phone=values.get("contact_phone", "").strip()[:20],
        note=values.get("note", "").strip()[:200],
        coupon_code=values.get("coupon_code", "").strip()[:32],
    )


def _cart_store(diner: User, store_id: int) -> Store:
    """A live store, or any store the diner still has a cart at (so a suspended store's cart
    says why it cannot be ordered from rather than vanishing)."""
    store = Store.objects.filter(pk=store_id).first()
    if store is None:
        raise Http404
    if store.status != Store.Status.LIVE and not Cart.objects.filter(diner=diner, store=store).exists():
        raise Http404
    return store


def _cart_render(
    request: HttpRequest,
    *,
    diner: User,
    store: Store,
    address: ChosenAddress,
    form: CheckoutForm,
    values: dict[str, str],
    refused: OrderRefused | None = None,
    status: int = 200,
    refused_status: int | None = None,
) -> HttpResponse:
    """The cart page: lines, the checkout form as typed, and the quote (or why there is none).

    `refused` is a refusal already met (placing the order); without one, the page quotes, and
    answers `refused_status` (when given) if the quote is refused."""
    cart, cart_view = _cart_for(diner, store)
    totals: Totals | None = None
    if refused is None and cart_view.lines:
        try:
            _store, _lines, quote, distance_m, _coupon = order_quote(
                diner=diner, request=_place_request(store=store, cart=cart, address=address, values=values)
            )
        except OrderRefused as error:
            refused = error
            status = refused_status or status
        else:
            totals = Totals(
                subtotal=format_yuan(quote.subtotal_cents),
                packaging=format_yuan(quote.packaging_cents),
                delivery_fee=format_yuan(quote.delivery_fee_cents),
                discount=format_yuan(-quote.discount_cents) if quote.discount_cents else None,
                total=format_yuan(quote.total_cents),
                distance=_distance_text(distance_m),
            )
    errors = {"general": "", "lines": "", "coupon_code": "", "delivery_address": ""}
    if refused is not None:
        errors[_refusal_slot(refused)] = refused.message
    context = {
        "store": store,
        "cart": cart_view,
        "address": address,
        "form": form,
        "totals": totals,
        "errors": errors,
        "cart_url": reverse("frontend:cart", args=[store.pk]),
    }
    return render(request, "frontend/diner/cart.html", context, status=status)


def _fresh_form(initial: dict[str, str]) -> CheckoutForm:
    return CheckoutForm(initial={**initial, "idempotency_key": initial.get("idempotency_key") or str(uuid.uuid4())})


@diner_required
@require_http_methods(["GET", "POST"])
def cart_page(request: HttpRequest, diner: User, store_id: int) -> HttpResponse:
    """GET: the cart and its quote. POST ("Apply" a coupon): quote again with what was typed,
    which is shown again as typed; a refused quote answers 400 with the reason by its field."""
    store = _cart_store(diner, store_id)
    address = _address_get(request)
    if address is None:
        return _address_required(request)
    if request.method == "POST":
        values = _typed(request)
        return _cart_render(
            request,
            diner=diner,
            store=store,
            address=address,
            form=_fresh_form(values),
            values=values,
            refused_status=400,
        )
    values = {"contact_name": diner.display_name}
    return _cart_render(request, diner=diner, store=store, address=address, form=_fresh_form(values), values={})


@diner_required
@require_POST
def cart_line_quantity(request: HttpRequest, diner: User, store_id: int, line_id: int) -> HttpResponse:
    """Set a cart line's quantity (0 removes it), then show the cart again with what was typed
    in the checkout form. Only the diner's own lines change; another's line id is not found."""
    store = _cart_store(diner, store_id)
    address = _address_get(request)
    if address is None:
        return _address_required(request)
    try:
        quantity = int(request.POST.get("quantity", ""))
    except ValueError:
        quantity = -1
    refused: OrderRefused | None = None
    try:
        cart_line_set_quantity(diner=diner, line_id=line_id, quantity=quantity)
    except OrderRefused as error:
        if error.status == 404:
            raise Http404(error.message) from error
        refused = error
    values = _typed(request)
    return _cart_render(
        request,
        diner=diner,
        store=store,
        address=address,
        form=_fresh_form(values),
        values=values,
        refused=refused,
        status=400 if refused else 200,
    )


def _order_for_key(diner: User, key: str) -> Order | None:
    """The order this diner already placed with this Idempotency key (a retried checkout)."""
    record = IdempotencyRecord.objects.filter(user=diner, key=key, order__isnull=False).select_related("order").first()
    return record.order if record is not None else None


def _pay(order: Order) -> HttpResponse:
    """To the provider's hosted page while the order awaits payment; else to the order page."""
    try:
        _payment, url = payment_start(order=order)
    except PaymentRefused:
        return redirect("frontend:order", number=order.number)
    return HttpResponseRedirect(url)


@diner_required
@require_POST
def checkout(request: HttpRequest, diner: User, store_id: int) -> HttpResponse:
    """Place the order for this cart exactly once per rendered form, then pay.

    The form's Idempotency key goes to order_place; a repeat of a key that already placed an
    order (a double click, a retried POST, the back button) goes on to that order's payment,
    even though its cart was cleared. A refusal re-renders the cart, status 400, with the
    message by its field and every typed value kept."""
    store = _cart_store(diner, store_id)
    address = _address_get(request)
    if address is None:
        return _address_required(request)
    key = request.POST.get("idempotency_key", "").strip()
    if key:
        placed = _order_for_key(diner, key)
        if placed is not None:
            return _pay(placed)
    values = _typed(request)
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        if "idempotency_key" in form.errors:
            # A form without a usable key (a tampered or truncated post): mint one for the retry.
            data = request.POST.copy()
            data["idempotency_key"] = str(uuid.uuid4())
            form = CheckoutForm(data)
        return _cart_render(request, diner=diner, store=store, address=address, form=form, values=values, status=400)
    cart = Cart.objects.filter(diner=diner, store=store).first()
    try:
        result = order_place(
            diner=diner,
            request=_place_request(store=store, cart=cart, address=address, values=form.cleaned_data),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except OrderRefused as refused:
        if refused.code == "idempotency_key_reused":
            values["idempotency_key"] = str(uuid.uuid4())
        return _cart_render(
            request,
            diner=diner,
            store=store,
            address=address,
            form=_fresh_form(values),
            values=values,
            refused=refused,
            status=400,
        )
    cart_clear(diner=diner, store=store)
    return _pay(result.order)


# --- Orders --------------------------------------------------------------------------------

S = Order.Status

# The happy path, in order: (status, its timestamp, label).
TIMELINE: tuple[tuple[str, str, Any], ...] = (
    (S.PLACED, "placed_at", gettext_lazy("Order placed")),
    (S.PAID, "paid_at", gettext_lazy("Paid")),
    (S.ACCEPTED, "accepted_at", gettext_lazy("Accepted by the restaurant")),
    (S.PREPARING, "preparing_at", gettext_lazy("Preparing")),
    (S.READY, "ready_at", gettext_lazy("Ready for pickup")),
    (S.PICKED_UP, "picked_up_at", gettext_lazy("Picked up by the courier")),
    (S.DELIVERED, "delivered_at", gettext_lazy("Delivered")),
)
# Endings off the happy path, shown only when they happen.
ENDINGS: tuple[tuple[str, str, Any], ...] = (
    (S.REJECTED, "rejected_at", gettext_lazy("Rejected by the restaurant")),
    (S.CANCELLED, "cancelled_at", gettext_lazy("Cancelled")),
    (S.PARTIALLY_REFUNDED, "refunded_at", gettext_lazy("Partly refunded")),
    (S.REFUNDED, "refunded_at", gettext_lazy("Refunded")),
)


@dataclass(frozen=True)
class Step:
    status: str
    label: str
    at: datetime | None
    state: str  # "done", "current", "todo" or "ended" (rejected, cancelled, refunded)


def _timeline(order: Order) -> list[Step]:
    """The happy path's steps with their times; a rejection, cancellation or refund is added
    where it happened (after a rejection or cancellation, the steps never reached are left out)."""
    ended = order.status in {S.REJECTED, S.CANCELLED}
    steps: list[Step] = []
    for status, stamp, label in TIMELINE:
        at: datetime | None = getattr(order, stamp)
        if ended and at is None:
            continue
        state = "current" if order.status == status else "done" if at is not None else "todo"
        steps.append(Step(status=status, label=str(label), at=at, state=state))
    for status, stamp, label in ENDINGS:
        at = getattr(order, stamp)
        refund_shown = status in {S.REFUNDED, S.PARTIALLY_REFUNDED} and order.status == status
        if (status in {S.REJECTED, S.CANCELLED} and at is not None) or refund_shown:
            steps.append(Step(status=status, label=str(label), at=at, state="ended"))
    return steps


@dataclass(frozen=True)
class OrderLineView:
    name: str
    details: list[str]
    allergens: list[str]
    quantity: int
    total: str
    note: str


def _order_lines(lines: Iterable[OrderLine]) -> list[OrderLineView]:
    views = []
    for line in lines:
        details = [
            f"{bilingual(str(o.get('group_zh', '')), str(o.get('group_en', '')))}: "
            f"{bilingual(str(o.get('option_zh', '')), str(o.get('option_en', '')))}"
            for o in line.options
        ] + [
            f"{c.get('quantity', 1)} × {bilingual(str(c.get('name_zh', '')), str(c.get('name_en', '')))}"
            for c in line.components
        ]
        views.append(
            OrderLineView(
                name=bilingual(line.name_zh, line.name_en),
                details=details,
                allergens=_allergen_labels(line.allergens),
                quantity=line.quantity,
                total=format_yuan(line.line_total_cents),
                note=line.note,
            )
        )
    return views


def _own_order(diner: User, number: str) -> Order:
    """The diner's own order; anyone else's (or none) is a 404 alike."""
    return get_object_or_404(Order.objects.select_related("store"), number=number, diner=diner)


def _status_context(order: Order) -> dict[str, Any]:
    return {
        "order": order,
        "steps": _timeline(order),
        "active": order.status in ACTIVE,
        "can_pay": order.status == S.PLACED,
        "total": format_yuan(order.total_cents),
    }


@diner_required
@require_GET
def order_page(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """One order for its diner: live status timeline, lines, totals, address and ETA; once
    delivered, its rating (or a way to rate it) and its refund requests."""
    order = _own_order(diner, number)
    order_lines = list(order.lines.all())
    review = Review.objects.filter(order=order).first()
    refunds = _refund_requests(order, order_lines)
    refund_blocked = _refund_blocker(
        order, has_open=any(r.is_open for r in refunds), has_refundable=any(_remaining(li) for li in order_lines)
    )
    context = {
        **_status_context(order),
        "address": _address_get(request),
        "lines": _order_lines(order_lines),
        "review": _review_view(review),
        "can_rate": review is None and order.delivered_at is not None,
        "refunds": refunds,
        "can_refund": refund_blocked is None,
        "subtotal": format_yuan(order.subtotal_cents),
        "packaging": format_yuan(order.packaging_cents),
        "delivery_fee": format_yuan(order.delivery_fee_cents),
        "discount": format_yuan(-order.discount_cents) if order.discount_cents else None,
    }
    return render(request, "frontend/diner/order.html", context)


@diner_required
@require_GET
def order_status(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """The order's status block alone (htmx partial), fetched again on every push or resync."""
    order = _own_order(diner, number)
    return render(request, "frontend/diner/_order_status.html", _status_context(order))


@diner_required
@require_POST
def order_pay(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """The "Pay now" button of a placed order: to the provider's page again (payment_start is
    idempotent: the pending payment is reused)."""
    order = _own_order(diner, number)
    if order.status != S.PLACED:
        messages.info(request, _("This order is already paid or closed."))
    return _pay(order)


@dataclass(frozen=True)
class OrderRow:
    order: Order
    total: str
    active: bool


@diner_required
@require_GET
def orders_page(request: HttpRequest, diner: User) -> HttpResponse:
    """The diner's orders, newest first (the last 50)."""
    orders = Order.objects.filter(diner=diner).select_related("store").order_by("-placed_at")[:50]
    rows = [OrderRow(order=o, total=format_yuan(o.total_cents), active=o.status in ACTIVE) for o in orders]
    return render(request, "frontend/diner/orders.html", {"rows": rows, "address": _address_get(request)})


@diner_required
@require_POST
def order_reorder(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """Put a past order's dishes back in the cart; name the ones that could not be added."""
    order = _own_order(diner, number)
    result = cart_reorder(diner=diner, order=order)
    if result.added:
        messages.success(
            request,
            ngettext("Added %(n)d dish to your cart.", "Added %(n)d dishes to your cart.", result.added)
            % {"n": result.added},
        )
    if result.skipped:
        messages.warning(
            request,
            _("Not added (sold out or no longer on the menu): %(names)s")
            % {"names": (", " if _english() else "、").join(result.skipped)},
        )
    return redirect("frontend:cart", store_id=order.store_id)


# --- Rating an order -----------------------------------------------------------------------

STARS_MAX = 5


@dataclass(frozen=True)
class StarsView:
    count: int

    @property
    def on(self) -> str:
        return "★" * self.count

    @property
    def off(self) -> str:
        return "★" * (STARS_MAX - self.count)

    @property
    def label(self) -> str:
        return _("%(n)d of 5 stars") % {"n": self.count}


@dataclass(frozen=True)
class ReviewView:
    review: Review
    store_stars: StarsView
    courier_stars: StarsView | None


def _review_view(review: Review | None) -> ReviewView | None:
    if review is None:
        return None
    return ReviewView(
        review=review,
        store_stars=StarsView(review.store_stars),
        courier_stars=StarsView(review.courier_stars) if review.courier_stars is not None else None,
    )


def _star_choices() -> list[tuple[int, str]]:
    """Built per form (not at import), so the labels are in the request's language."""
    return [(n, ngettext("%(n)d star", "%(n)d stars", n) % {"n": n}) for n in range(1, STARS_MAX + 1)]


_STARS_ERRORS = {
    "required": gettext_lazy("Choose 1 to 5 stars."),
    "invalid_choice": gettext_lazy("Choose 1 to 5 stars."),
}


class ReviewForm(forms.Form):
    store_stars = forms.TypedChoiceField(
        label=gettext_lazy("The food and the restaurant"),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages=_STARS_ERRORS,
    )
    store_text = forms.CharField(
        label=gettext_lazy("What did you think of the food?"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "store-text"}),
    )
    courier_stars = forms.TypedChoiceField(
        label=gettext_lazy("The delivery"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
        error_messages=_STARS_ERRORS,
        help_text=gettext_lazy("Optional: the courier is rated apart from the restaurant."),
    )
    courier_text = forms.CharField(
        label=gettext_lazy("How was the delivery?"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "data-testid": "courier-text"}),
    )

    def __init__(self, *args: Any, with_courier: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("store_stars", "courier_stars"):
            stars = self.fields[name]
            if isinstance(stars, forms.ChoiceField):
                stars.choices = _star_choices()
        if not with_courier:
            del self.fields["courier_stars"], self.fields["courier_text"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        words = (data.get("courier_text") or "").strip()
        if "courier_stars" in self.fields and words and data.get("courier_stars") is None:
            self.add_error("courier_stars", _("Give the courier stars too, or leave the words out."))
        return data


# What a refusal says to the diner, in their language (the services speak English to logs and APIs).
REVIEW_REFUSALS: dict[str, Any] = {
    "not_delivered": gettext_lazy("You can rate this order once it has been delivered."),
    "invalid_stars": gettext_lazy("Choose 1 to 5 stars."),
    "no_courier": gettext_lazy("This order had no courier to rate."),
}


def _rate_render(
    request: HttpRequest,
    *,
    order: Order,
    review: Review | None,
    form: ReviewForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "order": order,
        "review": _review_view(review),
        "delivered": order.delivered_at is not None,
        "form": form,
        "error": error,
        "address": _address_get(request),
    }
    return render(request, "frontend/diner/rate.html", context, status=status)


@diner_required
@require_http_methods(["GET", "POST"])
def order_rate(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """Rate a delivered order: 1-5 stars and words for the restaurant and, when a courier carried
    it, apart for the courier. Once rated, the page shows the review read-only (with the store's
    reply) instead of the form; a refusal keeps what was typed, says why by its field, status 400."""
    order = _own_order(diner, number)
    review = Review.objects.filter(order=order).first()
    if review is not None:
        return _rate_render(request, order=order, review=review, status=409 if request.method == "POST" else 200)
    with_courier = order.courier_id is not None
    if request.method != "POST":
        return _rate_render(request, order=order, review=None, form=ReviewForm(with_courier=with_courier))
    form = ReviewForm(request.POST, with_courier=with_courier)
    error, status = "", 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            review_create(
                diner=diner,
                order=order,
                store_stars=data["store_stars"],
                store_text=data["store_text"],
                courier_stars=data.get("courier_stars"),
                courier_text=data.get("courier_text", ""),
            )
        except ReviewRefused as refused:
            if refused.status == 404:
                raise Http404(refused.message) from refused
            if refused.code == "already_reviewed":  # rated meanwhile (another tab)
                review = Review.objects.filter(order=order).first()
                return _rate_render(request, order=order, review=review, status=409)
            message = str(REVIEW_REFUSALS.get(refused.code, refused.message))
            if refused.field in form.fields:
                form.add_error(refused.field, message)
            else:
                error = message
            status = refused.status
        else:
            messages.success(request, _("Thank you for rating your order."))
            return redirect("frontend:order", number=order.number)
    return _rate_render(request, order=order, review=None, form=form, error=error, status=status)


# --- Refund requests -----------------------------------------------------------------------

R = RefundRequest.Status
OPEN_REFUND = frozenset({R.REQUESTED, R.CONTESTED})

REFUND_REASONS: tuple[tuple[str, Any], ...] = (
    ("food_safety", gettext_lazy("Food safety problem")),
    ("wrong_item", gettext_lazy("Wrong item")),
    ("missing_item", gettext_lazy("Missing item")),
    ("quality", gettext_lazy("Quality")),
    ("cold_late", gettext_lazy("Cold or late")),
    ("other", gettext_lazy("Other")),
)

AFTERSALES_REFUSALS: dict[str, Any] = {
    "not_delivered": gettext_lazy("You can ask for a refund once the order has been delivered."),
    "window_closed": gettext_lazy("The time to ask for a refund on this order has passed."),
    "reason_required": gettext_lazy("Say what went wrong."),
    "lines_required": gettext_lazy("Choose the items to refund."),
    "invalid_lines": gettext_lazy(
        "Those items cannot be refunded: choose at most what you received and was not refunded yet."
    ),
    "request_open": gettext_lazy("Your request on this order is still waiting for an answer."),
    "invalid_photo": gettext_lazy("Photos must be JPEG, PNG or WebP images of at most 5 MB each."),
    "too_many_photos": gettext_lazy("Add at most 3 photos."),
}


def _remaining(line: OrderLine) -> int:
    return line.quantity - line.refunded_quantity


def _refund_blocker(order: Order, *, has_open: bool, has_refundable: bool) -> str | None:
    """Why the diner cannot ask for a refund on this order now, or None when they can. Only what
    the pages offer: refund_request_create decides when the request is sent."""
    if order.delivered_at is None:
        return str(AFTERSALES_REFUSALS["not_delivered"])
    if timezone.now() - order.delivered_at > timedelta(hours=settings.REFUND_REQUEST_WINDOW_HOURS):
        return str(AFTERSALES_REFUSALS["window_closed"])
    if has_open:
        return str(AFTERSALES_REFUSALS["request_open"])
    if not has_refundable:
        return _("Everything on this order has been refunded already.")
    return None


@dataclass(frozen=True)
class RefundRequestView:
    request: RefundRequest
    status: str
    amount: str
    items: list[str]
    photo_count: int

    @property
    def is_open(self) -> bool:
        return self.request.status in OPEN_REFUND


def _refund_requests(order: Order, order_lines: list[OrderLine]) -> list[RefundRequestView]:
    """The order's refund requests, newest first, with the items they name."""
    names = {line.pk: view.name for line, view in zip(order_lines, _order_lines(order_lines), strict=True)}
    requests = RefundRequest.objects.filter(order=order).annotate(photo_count=Count("photos")).order_by("-created_at")
    return [
        RefundRequestView(
            request=request,
            status=request.get_status_display(),
            amount=format_yuan(request.amount_cents),
            items=[
                f"{entry.get('quantity', 0)} × {names.get(entry.get('line', 0), '?')}"
                for entry in request.lines
                if isinstance(entry, dict)
            ],
            photo_count=request.photo_count,
        )
        for request in requests
    ]


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (Django's documented pattern); cleans to a list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


@dataclass(frozen=True)
class RefundLineRow:
    name: str
    details: list[str]
    unit: str
    remaining: int
    field: forms.BoundField


class RefundForm(forms.Form):
    reason = forms.ChoiceField(
        label=gettext_lazy("What went wrong?"),
        choices=(("", gettext_lazy("Choose a reason")), *REFUND_REASONS),
        error_messages={"required": gettext_lazy("Choose what went wrong.")},
        widget=forms.Select(attrs={"data-testid": "refund-reason"}),
    )
    details = forms.CharField(
        label=gettext_lazy("Tell the restaurant more"),
        max_length=150,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-testid": "refund-details"}),
    )
    photos = MultipleFileField(
        label=gettext_lazy("Photos"),
        required=False,
        help_text=gettext_lazy("Up to 3 photos (JPEG, PNG or WebP, at most 5 MB each)."),
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp", "data-testid": "refund-photos"}),
    )

    def __init__(self, *args: Any, lines: list[OrderLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refundable = lines
        for line in lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                min_value=0,
                required=False,
                initial=0,
                # The browser's bound is a hint: the service refuses more than is left.
                widget=forms.NumberInput(
                    attrs={"min": 0, "max": _remaining(line), "inputmode": "numeric", "data-testid": "refund-quantity"}
                ),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == "other" and not (data.get("details") or "").strip():
            self.add_error("details", _("Say what went wrong."))
        return data

    def line_rows(self) -> list[RefundLineRow]:
        views = _order_lines(self.refundable)
        return [
            RefundLineRow(
                name=view.name,
                details=view.details,
                unit=format_yuan(line.unit_price_cents),
                remaining=_remaining(line),
                field=self[f"line_{line.pk}"],
            )
            for line, view in zip(self.refundable, views, strict=True)
        ]

    def line_requests(self) -> list[dict[str, int]]:
        chosen = ((line.pk, self.cleaned_data.get(f"line_{line.pk}") or 0) for line in self.refundable)
        return [{"line": pk, "quantity": quantity} for pk, quantity in chosen if quantity > 0]

    def reason_text(self) -> str:
        """The reason as the diner chose and wrote it, in the language they saw it in."""
        label = str(dict(REFUND_REASONS).get(self.cleaned_data["reason"], ""))
        details = self.cleaned_data["details"].strip()
        return (f"{label}: {details}" if details else label)[:200]


@diner_required
@require_http_methods(["GET", "POST"])
def order_refund(request: HttpRequest, diner: User, number: str) -> HttpResponse:
    """Ask for money back on items of a delivered order: which items and how many (only what is
    not refunded yet), why, and up to 3 photos. Success goes back to the order page, which
    follows the request; a refusal keeps what was typed (photos are chosen again), by its field,
    status 400 (409 when a request is already open)."""
    order = _own_order(diner, number)
    lines = list(order.lines.filter(refunded_quantity__lt=F("quantity")).order_by("pk"))
    has_open = RefundRequest.objects.filter(order=order, status__in=OPEN_REFUND).exists()
    blocker = _refund_blocker(order, has_open=has_open, has_refundable=bool(lines))
    errors = {"general": "", "lines": ""}
    status = 200
    if request.method == "POST":
        form = RefundForm(request.POST, request.FILES, lines=lines)
        status = 400
        if form.is_valid():
            try:
                refund_request_create(
                    diner=diner,
                    order=order,
                    reason=form.reason_text(),
                    lines=form.line_requests(),
                    photos=form.cleaned_data["photos"],
                )
            except AftersalesRefused as refused:
                if refused.status == 404:
                    raise Http404(refused.message) from refused
                message = str(AFTERSALES_REFUSALS.get(refused.code, refused.message))
                if refused.field in ("reason", "photos"):
                    form.add_error(refused.field, message)
                else:
                    errors["lines" if refused.field == "lines" else "general"] = message
                status = refused.status
            else:
                messages.success(request, _("Your refund request has been sent to the restaurant."))
                return redirect("frontend:order", number=order.number)
    else:
        form = RefundForm(lines=lines)
    context = {
        "order": order,
        "form": form,
        "blocker": blocker,
        "errors": errors,
        "photos_again": status != 200 and bool(request.FILES),
        "response_hours": settings.REFUND_RESPONSE_HOURS,
        "address": _address_get(request),
    }
    return render(request, "frontend/diner/refund.html", context, status=status)
