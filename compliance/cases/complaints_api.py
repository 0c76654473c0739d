"""The complaints API (/api/v1/): a diner files one on an order (multipart, with photos) and
reads it; the store's staff list theirs, acknowledge and propose a solution; the diner or a
platform operator closes it. Refusals keep the services' stable codes."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import access_operator, access_store
from accounts.models import User
from compliance.models import Complaint
from compliance.services import complaints as service
from compliance.services.complaints import ComplaintRefused
from core.api import ApiError
from delivery.models import Order, StoreMembership


class ComplaintSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    order_number = serializers.CharField(source="order.number", allow_null=True, default=None)
    category = serializers.CharField()
    text = serializers.CharField()
    status = serializers.CharField()
    filed_at = serializers.DateTimeField()
    acknowledge_by = serializers.DateTimeField(allow_null=True)
    solution_by = serializers.DateTimeField(allow_null=True)
    close_by = serializers.DateTimeField(allow_null=True)
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    solution_proposed_at = serializers.DateTimeField(allow_null=True)
    solution = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    escalations = serializers.ListField(child=serializers.CharField())
    photo_count = serializers.SerializerMethodField()

    def get_photo_count(self, complaint: Complaint) -> int:
        return complaint.photos.count()


class FileComplaintSerializer(serializers.Serializer):  # type: ignore[type-arg]
    category = serializers.ChoiceField(choices=Complaint.Category.choices)
    text = serializers.CharField(max_length=service.TEXT_MAX)
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class ComplaintActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    action = serializers.ChoiceField(choices=("acknowledge", "propose", "close"))
    solution = serializers.CharField(required=False, allow_blank=True, default="")


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise ApiError("not_authenticated", "Sign in first.", status_code=status.HTTP_401_UNAUTHORIZED)
    return user


def _refused(refused: ComplaintRefused) -> ApiError:
    return ApiError(refused.code, refused.message, status_code=refused.status, field=refused.field)


class OrderComplaintsView(APIView):
    """The diner's complaints on one of their orders (GET), or a new one (POST, multipart for photos)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def _order(self, user: User, number: str) -> Order:
        order = Order.objects.filter(number=number, diner_id=user.pk).first()
        if order is None:
            raise ApiError("not_found", "No such order.", status_code=status.HTTP_404_NOT_FOUND)
        return order

    @extend_schema(responses=ComplaintSerializer(many=True))
    def get(self, request: Request, number: str) -> Response:
        order = self._order(_user(request), number)
        rows = Complaint.objects.filter(order=order).select_related("order").order_by("-filed_at")
        return Response(ComplaintSerializer(rows, many=True).data)

    @extend_schema(request=FileComplaintSerializer, responses={201: ComplaintSerializer})
    def post(self, request: Request, number: str) -> Response:
        user = _user(request)
        order = self._order(user, number)
        form = FileComplaintSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        photos = request.FILES.getlist("photos") if hasattr(request, "FILES") else []
        try:
            complaint = service.complaint_file(
                diner=user,
                order=order,
                category=form.validated_data["category"],
                text=form.validated_data["text"],
                photos=photos,
            )
        except ComplaintRefused as refused:
            raise _refused(refused) from refused
        return Response(ComplaintSerializer(complaint).data, status=status.HTTP_201_CREATED)


class StoreComplaintsView(APIView):
    """The complaints about the stores the user works at, open first."""

    @extend_schema(responses=ComplaintSerializer(many=True))
    def get(self, request: Request) -> Response:
        user = _user(request)
        store_ids = list(StoreMembership.objects.filter(user_id=user.pk).values_list("store_id", flat=True))
        if not store_ids:
            raise ApiError("not_store_staff", "Only restaurant staff have complaints to answer.", status_code=403)
        rows = Complaint.objects.filter(store_id__in=store_ids).select_related("order").order_by("status", "-filed_at")
        return Response(ComplaintSerializer(rows[:200], many=True).data)


class ComplaintActionView(APIView):
    """acknowledge / propose (solution): the store's staff; close: the diner or an operator."""

    @extend_schema(request=ComplaintActionSerializer, responses=ComplaintSerializer)
    def post(self, request: Request, complaint_id: int) -> Response:
        user = _user(request)
        complaint = Complaint.objects.select_related("store", "order").filter(Q(pk=complaint_id)).first()
        visible = complaint is not None and (
            complaint.diner_id == user.pk or access_store(user, complaint.store) or access_operator(user)
        )
        if complaint is None or not visible:
            raise ApiError("not_found", "No such complaint.", status_code=status.HTTP_404_NOT_FOUND)
        form = ComplaintActionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        action: Any = form.validated_data["action"]
        try:
            if action == "acknowledge":
                service.complaint_acknowledge(user=user, complaint=complaint)
            elif action == "propose":
                service.complaint_solution_propose(
                    user=user, complaint=complaint, solution=form.validated_data["solution"]
                )
            else:
                service.complaint_close(user=user, complaint=complaint)
        except ComplaintRefused as refused:
            raise _refused(refused) from refused
        return Response(ComplaintSerializer(complaint).data)


urlpatterns = [
    path("orders/<str:number>/complaints/", OrderComplaintsView.as_view(), name="order-complaints"),
    path("store/complaints/", StoreComplaintsView.as_view(), name="store-complaints"),
    path("complaints/<int:complaint_id>/actions/", ComplaintActionView.as_view(), name="complaint-action"),
]
