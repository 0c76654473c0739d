"""The live board's REST API (/api/v1/board/stores/<id>/...): the truth the board resyncs from,
and the actions it takes. Staff of the store only (owner, manager, staff); anyone else gets 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_store
from core.api import ApiError
from delivery.models import Order, Store
from delivery.selectors.board import board_order_data, board_orders, board_store_data
from delivery.services import board as svc


def _store(request: Request, store_id: int) -> Store:
    store = Store.objects.filter(pk=store_id).first()
    if store is None or not access_store(request.user, store):
        raise ApiError("not_found", "No such store.", status_code=status.HTTP_404_NOT_FOUND)
    return store


def _refused(refused: svc.BoardRefused) -> ApiError:
    return ApiError(refused.code, refused.message, status_code=refused.status, field=refused.field)


class BoardView(APIView):
    """Everything the board shows: the store's controls and its orders now (the resync)."""

    @extend_schema(request=None, responses=None)
    def get(self, request: Request, store_id: int) -> Response:
        store = _store(request, store_id)
        now = timezone.now()
        return Response(
            {
                "store": board_store_data(store, now=now),
                "orders": board_orders(store=store, now=now),
                "server_time": now.isoformat(),
            }
        )


class OrderActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField(required=False, min_value=1)
    prep_minutes = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=400)


ACTIONS: dict[str, Callable[..., Order]] = {
    "accept": svc.order_accept,
    "reject": svc.order_reject,
    "start": svc.order_start_preparing,
    "ready": svc.order_mark_ready,
    "picked-up": svc.order_mark_picked_up,
    "delivered": svc.order_mark_delivered,
}


class OrderActionView(APIView):
    """Move an order: accept (prep_minutes), reject (reason), start, ready, picked-up, delivered.
    Send the `version` the board showed: if another device moved the order meanwhile, the answer
    is 409 `order_moved` with a message to show, and the board resyncs."""

    @extend_schema(request=OrderActionSerializer, responses=None)
    def post(self, request: Request, store_id: int, number: str, action: str) -> Response:
        _store(request, store_id)
        move = ACTIONS.get(action)
        if move is None:
            raise ApiError("not_found", "No such action.", status_code=status.HTTP_404_NOT_FOUND)
        body = OrderActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kwargs: dict[str, Any] = {
            "user": request.user,
            "store_id": store_id,
            "number": number,
            "version": body.validated_data.get("version"),
        }
        if action == "accept" and "prep_minutes" in body.validated_data:
            kwargs["prep_minutes"] = body.validated_data["prep_minutes"]
        if action == "reject":
            kwargs["reason"] = body.validated_data.get("reason", "")
        try:
            order = move(**kwargs)
        except svc.BoardRefused as refused:
            raise _refused(refused) from refused
        return Response(
            board_order_data(order, now=timezone.now(), auto_printed=order.ticket_prints.filter(kind="auto").exists())
        )


class PrintSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=["auto", "manual"])
    device = serializers.CharField(required=False, allow_blank=True, max_length=64)


class TicketPrintView(APIView):
    """Record a print. `auto`: 201 and claimed=true for the one board that prints the order's
    automatic ticket, 200 and claimed=false for every other; `manual` (reprint): always 201."""

    @extend_schema(request=PrintSerializer, responses=None)
    def post(self, request: Request, store_id: int, number: str) -> Response:
        _store(request, store_id)
        body = PrintSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            claim = svc.ticket_print_record(
                user=request.user,  # type: ignore[arg-type]
                store_id=store_id,
                number=number,
                kind=body.validated_data["kind"],
                device=body.validated_data.get("device", ""),
            )
        except svc.BoardRefused as refused:
            raise _refused(refused) from refused
        return Response(
            {"claimed": claim.claimed}, status=status.HTTP_201_CREATED if claim.claimed else status.HTTP_200_OK
        )


class BusySerializer(serializers.Serializer):  # type: ignore[type-arg]
    extra_minutes = serializers.IntegerField()


class PauseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    minutes = serializers.IntegerField(required=False, min_value=1)
    until = serializers.DateTimeField(required=False)
    indefinite = serializers.BooleanField(required=False, default=False)


class SoldOutSerializer(serializers.Serializer):  # type: ignore[type-arg]
    mode = serializers.ChoiceField(choices=["end_of_day", "hours", "indefinite", "available"])
    hours = serializers.IntegerField(required=False)


class StoreControlView(APIView):
    """Busy mode (`busy`: extra_minutes), `pause` (minutes, until, or indefinite), `resume`."""

    @extend_schema(request=None, responses=None)
    def post(self, request: Request, store_id: int, control: str) -> Response:
        _store(request, store_id)
        user = request.user
        try:
            if control == "busy":
                busy = BusySerializer(data=request.data)
                busy.is_valid(raise_exception=True)
                store = svc.store_busy_set(
                    user=user,  # type: ignore[arg-type]
                    store_id=store_id,
                    extra_minutes=busy.validated_data["extra_minutes"],
                )
            elif control == "pause":
                pause = PauseSerializer(data=request.data)
                pause.is_valid(raise_exception=True)
                data = pause.validated_data
                if data.get("minutes"):
                    until = timezone.now() + timedelta(minutes=data["minutes"])
                elif data.get("until"):
                    until = data["until"]
                elif data.get("indefinite"):
                    until = None
                else:
                    raise ApiError(
                        "invalid_pause", "Pause for some minutes, until a time, or until resumed.", field="minutes"
                    )
                store = svc.store_pause(user=user, store_id=store_id, until=until)  # type: ignore[arg-type]
            elif control == "resume":
                store = svc.store_resume(user=user, store_id=store_id)  # type: ignore[arg-type]
            else:
                raise ApiError("not_found", "No such control.", status_code=status.HTTP_404_NOT_FOUND)
        except svc.BoardRefused as refused:
            raise _refused(refused) from refused
        return Response(board_store_data(store))


class SoldOutView(APIView):
    """Sold out until end of day, for N hours, indefinitely, or available again: a dish
    (`items/<id>`) or one option (`options/<id>`)."""

    @extend_schema(request=SoldOutSerializer, responses=None)
    def post(self, request: Request, store_id: int, kind: str, object_id: int) -> Response:
        _store(request, store_id)
        body = SoldOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        args = {
            "user": request.user,
            "store_id": store_id,
            "mode": body.validated_data["mode"],
            "hours": body.validated_data.get("hours"),
        }
        try:
            if kind == "items":
                obj: Any = svc.item_sold_out_set(item_id=object_id, **args)
            elif kind == "options":
                obj = svc.option_sold_out_set(option_id=object_id, **args)
            else:
                raise ApiError("not_found", "No such menu entry.", status_code=status.HTTP_404_NOT_FOUND)
        except svc.BoardRefused as refused:
            raise _refused(refused) from refused
        until = obj.sold_out_until.isoformat() if obj.sold_out_until else None
        return Response({"id": obj.pk, "available": obj.available, "sold_out_until": until})


urlpatterns = [
    path("board/stores/<int:store_id>/", BoardView.as_view(), name="api-board"),
    path("board/stores/<int:store_id>/orders/<str:number>/prints/", TicketPrintView.as_view(), name="api-board-print"),
    path(
        "board/stores/<int:store_id>/orders/<str:number>/<slug:action>/",
        OrderActionView.as_view(),
        name="api-board-order-action",
    ),
    path("board/stores/<int:store_id>/controls/<slug:control>/", StoreControlView.as_view(), name="api-board-control"),
    path(
        "board/stores/<int:store_id>/menu/<slug:kind>/<int:object_id>/sold-out/",
        SoldOutView.as_view(),
        name="api-board-sold-out",
    ),
]
