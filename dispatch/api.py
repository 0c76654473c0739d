"""The courier app's REST API (and the diner's tracking resync), under /api/v1/.

Views parse input, check access (the signed-in user's own Courier; the order's own diner) and
call one service or selector. Refusals are `{"code", "message", "fields"}` with HTTP 409 for a
state conflict. Every write is idempotent when repeated (accepting an accepted offer, marking
a picked-up order picked up)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_courier, access_order_tracking
from accounts.models import User
from core.api import ApiError
from delivery.models import Order
from dispatch.models import Courier, CourierProblem, Offer, OrderDispatch
from dispatch.selectors import earnings_today, offer_pending_for, pool_near, tasks_for, tracking_snapshot
from dispatch.services.couriers import courier_go_offline, courier_go_online
from dispatch.services.flow import (
    Pickup,
    courier_arrive_customer,
    courier_arrive_store,
    courier_deliver,
    courier_pick_up,
    courier_problem_report,
    pickup_plan,
)
from dispatch.services.offers import offer_accept, offer_decline, pool_grab
from dispatch.transitions import TransitionRefused


def _courier(request: Request) -> Courier:
    user = _user(request)
    courier = Courier.objects.filter(user_id=user.pk).first()
    if courier is None or not access_courier(user, courier):
        raise ApiError("not_a_courier", "Only couriers can do this.", status_code=status.HTTP_403_FORBIDDEN)
    return courier


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):
        raise ApiError("not_authenticated", "Sign in first.", status_code=status.HTTP_401_UNAUTHORIZED)
    return user


def _data(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


def _conflict(refused: TransitionRefused) -> ApiError:
    return ApiError(refused.code, refused.message, status_code=status.HTTP_409_CONFLICT)


def _point(p: Any) -> dict[str, float] | None:
    return {"lat": p.y, "lng": p.x} if p is not None else None


def _order_card(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "store_id": order.store_id,
        "store": order.store.display_name,
        "store_address": order.store.address,
        "pickup": _point(order.store.location),
        "dropoff_address": order.delivery_address,
        "dropoff": _point(order.delivery_point),
        "contact": order.contact_name,
        # Couriers see only the masked phone (privacy rule).
        "phone": order.contact_phone_masked,
        "distance_m": order.delivery_distance_m,
    }


def _pickup_cards(plan: list[Pickup]) -> list[dict[str, Any]]:
    """The stores to pick up at, in visiting order (one for most tasks; several for a
    multi-store bundle)."""
    return [
        {
            "store_id": p.store.pk,
            "store": p.store.display_name,
            "store_address": p.store.address,
            "pickup": _point(p.store.location),
            "orders": [o.number for o in p.orders],
            "arrived": p.arrived,
            "done": p.done,
        }
        for p in plan
    ]


def courier_state(courier: Courier) -> dict[str, Any]:
    """Everything the courier app shows: state, the pending offer, tasks, pool, earnings."""
    courier.refresh_from_db()
    offer = offer_pending_for(courier=courier)
    earned, delivered = earnings_today(courier=courier)
    offer_data = None
    if offer is not None:
        orders = sorted(
            offer.orders.select_related("store"),
            key=lambda o: offer.sequence.index(o.pk) if o.pk in offer.sequence else 0,
        )
        offer_data = {
            "id": offer.pk,
            "expires_at": offer.expires_at.isoformat(),
            "seconds_left": max(0, int((offer.expires_at - timezone.now()).total_seconds())),
            "pickup_distance_m": offer.pickup_distance_m,
            "dropoff_distance_m": offer.dropoff_distance_m,
            "earnings_cents": offer.earnings_cents,
            "orders": [_order_card(o) for o in orders],
            "pickups": _pickup_cards(pickup_plan(orders)),
        }
    tasks = []
    carried = tasks_for(courier=courier)
    for d in carried:
        card = _order_card(d.order)
        card.update(
            arrived_store=d.arrived_store_at is not None, arrived=d.arrived_at is not None, fee_cents=d.fee_cents
        )
        tasks.append(card)
    pool = [
        {**_order_card(d.order), "waiting_since": d.created_at.isoformat()}
        for d in (pool_near(courier=courier) if courier.state == Courier.State.IDLE else [])
    ]
    return {
        "id": courier.pk,
        "state": courier.state,
        "online": courier.state != Courier.State.OFFLINE,
        "vehicle": courier.vehicle,
        "offer": offer_data,
        "tasks": tasks,
        "pickups": _pickup_cards(
            pickup_plan([d.order for d in carried], arrived={d.order_id for d in carried if d.arrived_store_at})
        ),
        "pool": pool,
        "earnings_today_cents": earned,
        "delivered_today": delivered,
    }


class CourierMeView(APIView):
    @extend_schema(responses=dict)
    def get(self, request: Request) -> Response:
        return Response(courier_state(_courier(request)))


class CourierOnlineView(APIView):
    """POST: go online (`{"online": true}`) or offline (`{"online": false}`)."""

    @extend_schema(request=dict, responses=dict)
    def post(self, request: Request) -> Response:
        courier = _courier(request)
        online = _data(request).get("online")
        if not isinstance(online, bool):
            raise ApiError("invalid", "online must be true or false.", field="online")
        try:
            if online:
                courier_go_online(courier=courier, actor=_user(request))
            else:
                courier_go_offline(courier=courier, actor=_user(request))
        except TransitionRefused as refused:
            raise _conflict(refused) from refused
        return Response(courier_state(courier))


class DeclineSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class OfferAnswerView(APIView):
    """POST offers/<id>/accept/ or offers/<id>/decline/ (`{"reason": ...}`)."""

    answer = "accept"

    @extend_schema(request=DeclineSerializer, responses=dict)
    def post(self, request: Request, offer_id: int) -> Response:
        courier = _courier(request)
        if not Offer.objects.filter(pk=offer_id, courier=courier).exists():
            raise ApiError("not_found", "No such offer.", status_code=status.HTTP_404_NOT_FOUND)
        try:
            if self.answer == "accept":
                offer_accept(offer_id=offer_id, courier=courier, actor=_user(request))
            else:
                body = DeclineSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                offer_decline(
                    offer_id=offer_id, courier=courier, actor=_user(request), reason=body.validated_data["reason"]
                )
        except TransitionRefused as refused:
            raise _conflict(refused) from refused
        return Response(courier_state(courier))


class PoolGrabView(APIView):
    @extend_schema(request=None, responses=dict)
    def post(self, request: Request, number: str) -> Response:
        courier = _courier(request)
        dispatch = OrderDispatch.objects.filter(order__number=number).first()
        if dispatch is None:
            raise ApiError("not_found", "No such order.", status_code=status.HTTP_404_NOT_FOUND)
        try:
            pool_grab(order_id=dispatch.order_id, courier=courier, actor=_user(request))
        except TransitionRefused as refused:
            raise _conflict(refused) from refused
        return Response(courier_state(courier))


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=CourierProblem.Kind.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TaskStepView(APIView):
    """POST tasks/<number>/<step>/: arrived-store, picked-up, arrived, delivered (`{"code"}`),
    problem (`{"kind", "note"}`)."""

    @extend_schema(request=dict, responses=dict)
    def post(self, request: Request, number: str, step: str) -> Response:
        courier = _courier(request)
        user = _user(request)
        try:
            if step == "arrived-store":
                courier_arrive_store(courier=courier, actor=user, order_number=number)
            elif step == "picked-up":
                courier_pick_up(courier=courier, order_number=number, actor=user)
            elif step == "arrived":
                courier_arrive_customer(courier=courier, order_number=number, actor=user)
            elif step == "delivered":
                code = _data(request).get("code")
                if not isinstance(code, str) or not code.strip():
                    raise ApiError("invalid", "Enter the customer's 4-digit code.", field="code")
                courier_deliver(courier=courier, order_number=number, code=code, actor=user)
            elif step == "problem":
                body = ProblemSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                courier_problem_report(
                    courier=courier,
                    kind=body.validated_data["kind"],
                    note=body.validated_data["note"],
                    order_number=number,
                    actor=user,
                )
            else:
                raise ApiError("not_found", "No such step.", status_code=status.HTTP_404_NOT_FOUND)
        except TransitionRefused as refused:
            raise _conflict(refused) from refused
        return Response(courier_state(courier))


class OrderTrackingView(APIView):
    """GET: the diner's resync of the live map (the same snapshot the socket sends)."""

    @extend_schema(responses=dict)
    def get(self, request: Request, number: str) -> Response:
        order = get_object_or_404(Order.objects.select_related("store"), number=number)
        if not access_order_tracking(request.user, order):
            raise ApiError("not_found", "No such order.", status_code=status.HTTP_404_NOT_FOUND)
        return Response(tracking_snapshot(order=order))


urlpatterns = [
    path("courier/me/", CourierMeView.as_view(), name="api-courier-me"),
    path("courier/online/", CourierOnlineView.as_view(), name="api-courier-online"),
    path("courier/offers/<int:offer_id>/accept/", OfferAnswerView.as_view(answer="accept"), name="api-offer-accept"),
    path("courier/offers/<int:offer_id>/decline/", OfferAnswerView.as_view(answer="decline"), name="api-offer-decline"),
    path("courier/pool/<str:number>/grab/", PoolGrabView.as_view(), name="api-pool-grab"),
    path("courier/tasks/<str:number>/<slug:step>/", TaskStepView.as_view(), name="api-task-step"),
    path("orders/<str:number>/tracking/", OrderTrackingView.as_view(), name="api-order-tracking"),
]
