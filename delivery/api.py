"""The marketplace API (/api/v1/): placing and reading orders.

Views parse input, check access through accounts.access and call one service or selector.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_diner, access_order
from core.api import ApiError
from core.authentication import FastTokenAuthentication
from delivery.models import MenuCategory, MenuItem, Option, OptionGroup, Order, OrderLine, SetMeal, Store
from delivery.payments.base import PaymentRefused
from delivery.payments.services import payment_start
from delivery.selectors.discovery import SORT_KEYS, stores_delivering_to
from delivery.services.orders import LineRequest, OrderRefused, PlaceRequest, order_place

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The project's authentication (REST_FRAMEWORK's defaults: sessions, then tokens) with the token
# read by a statement written once (core.authentication), on the order path's views.
ORDER_AUTHENTICATION = [SessionAuthentication, FastTokenAuthentication]


class LineRequestSerializer(serializers.Serializer):  # type: ignore[type-arg]
    item_id = serializers.IntegerField(required=False, allow_null=True)
    set_meal_id = serializers.IntegerField(required=False, allow_null=True)
    option_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    quantity = serializers.IntegerField(min_value=1, max_value=99, default=1)
    note = serializers.CharField(max_length=140, required=False, allow_blank=True, default="")


class PlaceOrderSerializer(serializers.Serializer):  # type: ignore[type-arg]
    store_id = serializers.IntegerField()
    lines = LineRequestSerializer(many=True, allow_empty=False)
    delivery_address = serializers.CharField(max_length=255)
    delivery_lat = serializers.FloatField(min_value=-90, max_value=90)
    delivery_lng = serializers.FloatField(min_value=-180, max_value=180)
    contact_name = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    contact_phone = serializers.RegexField(r"^\+?[\d\s-]{7,20}$", required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    coupon_code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def to_request(self) -> PlaceRequest:
        data = self.validated_data
        return PlaceRequest(
            store_id=data["store_id"],
            lines=tuple(
                LineRequest(
                    item_id=line.get("item_id"),
                    set_meal_id=line.get("set_meal_id"),
                    option_ids=tuple(line["option_ids"]),
                    quantity=line["quantity"],
                    note=line["note"],
                )
                for line in data["lines"]
            ),
            delivery_address=data["delivery_address"],
            delivery_lat=data["delivery_lat"],
            delivery_lng=data["delivery_lng"],
            contact_name=data["contact_name"],
            contact_phone=data["contact_phone"],
            note=data["note"],
            coupon_code=data["coupon_code"],
        )


# ModelSerializer class -> its fields as get_fields() first built them (unbound).
_built_fields: dict[type, dict[str, serializers.Field]] = {}  # type: ignore[type-arg]


class FieldsBuiltOnce:
    """For a ModelSerializer on a hot path: its fields are built from the model once per process
    and copied for each instance (DRF rebuilds them from the model's field definitions for every
    serializer instance, which cost more than rendering an order). The fields depend only on the
    class, never on the instance or its context; each instance gets its own copies to bind, as
    DRF does with declared fields."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        cls = type(self)
        built = _built_fields.get(cls)
        if built is None:
            built = super().get_fields()  # type: ignore[misc]
            _built_fields[cls] = built
        return copy.deepcopy(built)


class OrderLineSerializer(FieldsBuiltOnce, serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = OrderLine
        fields = [
            "id",
            "name_zh",
            "name_en",
            "options",
            "components",
            "allergens",
            "unit_price_cents",
            "quantity",
            "line_total_cents",
            "refunded_quantity",
            "note",
        ]


class OrderSerializer(FieldsBuiltOnce, serializers.ModelSerializer):  # type: ignore[type-arg]
    lines = OrderLineSerializer(many=True, read_only=True)
    store_name = serializers.CharField(source="store.display_name", read_only=True)
    contact_phone = serializers.CharField(source="contact_phone_masked", read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "version",
            "store",
            "store_name",
            "lines",
            "subtotal_cents",
            "packaging_cents",
            "delivery_fee_cents",
            "discount_cents",
            "total_cents",
            "delivery_address",
            "delivery_distance_m",
            "contact_name",
            "contact_phone",
            "note",
            "eta_at",
            "placed_at",
            "paid_at",
            "accepted_at",
            "preparing_at",
            "ready_at",
            "picked_up_at",
            "delivered_at",
            "rejected_at",
            "cancelled_at",
            "refunded_at",
            "reason",
        ]
        read_only_fields = fields


_renderer: OrderSerializer | None = None
_renderer_lock = threading.Lock()


def order_representation(order: Order) -> dict[str, Any]:
    """OrderSerializer(order).data, from one serializer per process: its fields are built and
    bound once, and rendering reads them only (no field keeps state between calls), so threads
    share it. A new serializer per response cost more than the rest of the response."""
    global _renderer
    if _renderer is None:
        with _renderer_lock:
            if _renderer is None:
                renderer = OrderSerializer()
                # Bind every field now (the lines' too), before any thread shares them.
                renderer.fields["lines"].child.fields  # type: ignore[attr-defined]  # noqa: B018
                _renderer = renderer
    data: dict[str, Any] = _renderer.to_representation(order)
    return data


class OrderListCreateView(generics.ListCreateAPIView):  # type: ignore[type-arg]
    """GET: the signed-in diner's orders, newest first. POST: place an order (Idempotency-Key)."""

    authentication_classes = ORDER_AUTHENTICATION

    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return (
            Order.objects.filter(diner_id=self.request.user.pk)
            .select_related("store")
            .prefetch_related("lines")
            .order_by("-placed_at")
        )

    @extend_schema(
        request=PlaceOrderSerializer,
        responses={201: OrderSerializer, 200: OrderSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=True)],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not access_diner(request.user):
            raise ApiError("not_a_diner", "Only diner accounts place orders.", status_code=status.HTTP_403_FORBIDDEN)
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key or len(key) > 128:
            raise ApiError("idempotency_key_required", f"Send an {IDEMPOTENCY_HEADER} header (1-128 characters).")
        body = PlaceOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = order_place(diner=request.user, request=body.to_request(), idempotency_key=key)  # type: ignore[arg-type]
        except OrderRefused as refused:
            raise ApiError(refused.code, refused.message, status_code=refused.status, field=refused.field) from refused
        data = order_representation(result.order)
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class OrderDetailView(generics.RetrieveAPIView):  # type: ignore[type-arg]
    """One order, for its diner, its store's staff and operators; anyone else gets 404."""

    authentication_classes = ORDER_AUTHENTICATION

    serializer_class = OrderSerializer
    lookup_field = "number"

    def get_queryset(self) -> QuerySet[Order]:
        return Order.objects.select_related("store").prefetch_related("lines")

    def get_object(self) -> Order:
        order: Order = super().get_object()
        if not access_order(self.request.user, order):
            raise ApiError("not_found", "No such order.", status_code=status.HTTP_404_NOT_FOUND)
        return order


class PaymentStartSerializer(serializers.Serializer):  # type: ignore[type-arg]
    provider = serializers.CharField()
    provider_ref = serializers.CharField()
    amount_cents = serializers.IntegerField()
    redirect_url = serializers.CharField(help_text="The provider's hosted page to send the diner to.")


class OrderPaymentView(APIView):
    """Start (or resume) paying for a placed order: its diner only. Idempotent while pending."""

    authentication_classes = ORDER_AUTHENTICATION

    @extend_schema(request=None, responses=PaymentStartSerializer)
    def post(self, request: Request, number: str) -> Response:
        # Another diner's order is "not found" alike: read and locked by number and diner at once.
        try:
            payment, url = payment_start(number=number, diner_id=request.user.pk)
        except PaymentRefused as refused:
            if refused.code == "order_not_found":
                raise ApiError("not_found", "No such order.", status_code=status.HTTP_404_NOT_FOUND) from refused
            raise ApiError(refused.code, refused.message, status_code=status.HTTP_409_CONFLICT) from refused
        data = {
            "provider": payment.provider,
            "provider_ref": payment.provider_ref,
            "amount_cents": payment.amount_cents,
            "redirect_url": url,
        }
        return Response(PaymentStartSerializer(data).data, status=status.HTTP_201_CREATED)


class StoreCardSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(source="store.pk")
    name = serializers.CharField(source="store.display_name")
    name_zh = serializers.CharField(source="store.name_zh")
    name_en = serializers.CharField(source="store.name_en")
    address = serializers.CharField(source="store.address")
    distance_m = serializers.IntegerField()
    delivery_fee_cents = serializers.IntegerField()
    eta_minutes = serializers.IntegerField()
    rating = serializers.FloatField(allow_null=True)
    min_order_cents = serializers.IntegerField()


class StoresQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    sort = serializers.ChoiceField(choices=sorted(SORT_KEYS), default="distance")


class StoresDeliveringView(APIView):
    """Live stores that deliver to a point and are open now, with distance, fee, ETA, rating.
    Public: anyone may browse."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[StoresQuerySerializer], responses=StoreCardSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = StoresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        point = Point(query.validated_data["lng"], query.validated_data["lat"], srid=4326)
        cards = stores_delivering_to(point, sort=query.validated_data["sort"])
        return Response(StoreCardSerializer(cards, many=True).data)


class OptionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Option
        fields = ["id", "name_zh", "name_en", "price_delta_cents", "available"]


class OptionGroupSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    options = OptionSerializer(many=True, read_only=True)

    class Meta:
        model = OptionGroup
        fields = ["id", "name_zh", "name_en", "min_choices", "max_choices", "options"]


class MenuItemSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    option_groups = OptionGroupSerializer(many=True, read_only=True)

    class Meta:
        model = MenuItem
        fields = [
            "id",
            "name_zh",
            "name_en",
            "description",
            "price_cents",
            "photo",
            "allergens",
            "available",
            "option_groups",
        ]


class SetMealSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    components = serializers.SerializerMethodField()

    class Meta:
        model = SetMeal
        fields = ["id", "name_zh", "name_en", "description", "price_cents", "available", "components"]

    def get_components(self, meal: SetMeal) -> list[dict[str, Any]]:
        return [
            {"item": c.item_id, "name_zh": c.item.name_zh, "name_en": c.item.name_en, "quantity": c.quantity}
            for c in meal.components.all()
        ]


class MenuCategorySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    items = MenuItemSerializer(many=True, read_only=True)
    set_meals = SetMealSerializer(many=True, read_only=True)

    class Meta:
        model = MenuCategory
        fields = ["id", "name_zh", "name_en", "items", "set_meals"]


class StoreMenuView(APIView):
    """A live store's menu: categories, dishes with option groups, set meals. Public."""

    permission_classes = [AllowAny]

    @extend_schema(responses=MenuCategorySerializer(many=True))
    def get(self, request: Request, store_id: int) -> Response:
        store = get_object_or_404(Store, pk=store_id, status=Store.Status.LIVE)
        categories = MenuCategory.objects.filter(store=store).prefetch_related(
            "items__option_groups__options", "set_meals__components__item"
        )
        return Response(MenuCategorySerializer(categories, many=True).data)


urlpatterns = [
    path("stores/", StoresDeliveringView.as_view(), name="api-stores"),
    path("stores/<int:store_id>/menu/", StoreMenuView.as_view(), name="api-store-menu"),
    path("orders/", OrderListCreateView.as_view(), name="api-orders"),
    path("orders/<str:number>/", OrderDetailView.as_view(), name="api-order"),
    path("orders/<str:number>/payments/", OrderPaymentView.as_view(), name="api-order-payment"),
]
