"""The cases API (/api/v1/): a regulator's queue, a case (for its regulators and its merchant),
and the actions on it. Views parse input, check access and call one service or selector;
refusals keep the services' stable codes in the `{"code", "message", "fields"}` shape."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import STORE_ROLES_MANAGE, access_regulator_store, access_store
from accounts.models import RegulatorProfile, User
from compliance.cases import services
from compliance.cases.models import Case
from compliance.cases.selectors import queue_for
from compliance.cases.services import CaseRefused, case_audit_verify
from compliance.services.sanctions import SanctionRefused
from core.api import ApiError

REGULATOR_ACTIONS = ("triage", "review", "notice", "decide", "note", "close", "appeal_decide", "lift")
MERCHANT_ACTIONS = ("defence", "appeal")


class QueueRowSerializer(serializers.Serializer):  # type: ignore[type-arg]
    store_id = serializers.IntegerField(source="store.pk")
    store_name = serializers.CharField(source="store.display_name")
    severity = serializers.CharField()
    since = serializers.DateTimeField()
    case_id = serializers.IntegerField(source="case.pk", allow_null=True, default=None)
    case_status = serializers.CharField(source="case.status", allow_null=True, default=None)
    flags = serializers.SerializerMethodField()

    def get_flags(self, row: Any) -> list[dict[str, Any]]:
        return [{"id": flag.pk, "code": flag.code, "severity": flag.severity} for flag in row.flags]


class CaseEventSerializer(serializers.Serializer):  # type: ignore[type-arg]
    seq = serializers.IntegerField()
    action = serializers.CharField()
    actor_role = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    payload = serializers.JSONField()
    created_at = serializers.DateTimeField()
    hash = serializers.CharField()


class CaseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    title = serializers.CharField()
    origin = serializers.CharField(source="source", help_text="flag, complaint or regulator")
    status = serializers.CharField()
    notice_text = serializers.CharField()
    defence_due_at = serializers.DateTimeField(allow_null=True)
    defence_text = serializers.CharField()
    decision = serializers.CharField()
    decision_reason = serializers.CharField()
    sanction_id = serializers.IntegerField(allow_null=True)
    appeal_due_at = serializers.DateTimeField(allow_null=True)
    appeal_outcome = serializers.CharField()
    audit_intact = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    def get_audit_intact(self, case: Case) -> bool:
        return case_audit_verify(case) is None

    def get_events(self, case: Case) -> list[dict[str, Any]]:
        events = case.events.order_by("seq")
        return list(CaseEventSerializer(events, many=True).data)


class CaseActionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    action = serializers.ChoiceField(choices=REGULATOR_ACTIONS + MERCHANT_ACTIONS)
    text = serializers.CharField(required=False, allow_blank=True, default="")
    defence_days = serializers.IntegerField(required=False, default=services.DEFENCE_DAYS_DEFAULT)
    decision = serializers.ChoiceField(choices=Case.Decision.choices, required=False)
    rectify_by = serializers.DateField(required=False, allow_null=True, default=None)
    overturn = serializers.BooleanField(required=False, default=False)


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise ApiError("not_authenticated", "Sign in first.", status_code=status.HTTP_401_UNAUTHORIZED)
    return user


def _case_for(user: User, case_id: int) -> Case:
    """The case, if the user regulates its store or manages it; else 404 (it does not exist)."""
    case = Case.objects.select_related("store").filter(pk=case_id).first()
    if case is None or not (
        access_regulator_store(user, case.store) or access_store(user, case.store, roles=STORE_ROLES_MANAGE)
    ):
        raise ApiError("not_found", "No such case.", status_code=status.HTTP_404_NOT_FOUND)
    return case


class RegulatorQueueView(APIView):
    """The signed-in regulator's queue (their districts only), most urgent first."""

    @extend_schema(responses=QueueRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        user = _user(request)
        if not RegulatorProfile.objects.filter(user_id=user.pk).exists():
            raise ApiError("not_a_regulator", "Only regulators have a queue.", status_code=status.HTTP_403_FORBIDDEN)
        return Response(QueueRowSerializer(queue_for(user), many=True).data)


class CaseDetailView(APIView):
    """A case with its audit trail, for its district's regulators and the store's managers."""

    @extend_schema(responses=CaseSerializer)
    def get(self, request: Request, case_id: int) -> Response:
        return Response(CaseSerializer(_case_for(_user(request), case_id)).data)


class CaseActionView(APIView):
    """One action on a case. Regulators: triage, review, notice (text, defence_days), decide
    (decision, text as reasons, rectify_by), note, close, appeal_decide (overturn, text), lift.
    The store's managers: defence, appeal (text). Retrying a move already made is a success."""

    @extend_schema(request=CaseActionSerializer, responses=CaseSerializer)
    def post(self, request: Request, case_id: int) -> Response:
        user = _user(request)
        case = _case_for(user, case_id)
        form = CaseActionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        action, text = data["action"], data["text"]
        try:
            if action in REGULATOR_ACTIONS and not access_regulator_store(user, case.store):
                raise ApiError("not_found", "No such case.", status_code=status.HTTP_404_NOT_FOUND)
            if action == "triage":
                services.case_triage(regulator=user, case=case)
            elif action == "review":
                services.case_review(regulator=user, case=case)
            elif action == "notice":
                services.case_notice_send(regulator=user, case=case, text=text, defence_days=data["defence_days"])
            elif action == "decide":
                services.case_decide(
                    regulator=user,
                    case=case,
                    decision=data.get("decision", ""),
                    reason=text,
                    rectify_by=data["rectify_by"],
                )
            elif action == "note":
                services.case_note(regulator=user, case=case, text=text)
            elif action == "close":
                services.case_close(regulator=user, case=case, reason=text)
            elif action == "appeal_decide":
                services.case_appeal_decide(regulator=user, case=case, overturn=data["overturn"], reason=text)
            elif action == "lift":
                services.case_sanction_lift(regulator=user, case=case, reason=text)
            elif action == "defence":
                services.case_defence_file(user=user, case=case, text=text)
            elif action == "appeal":
                services.case_appeal_file(user=user, case=case, text=text)
        except (CaseRefused, SanctionRefused) as refused:
            field = "text" if refused.field in ("reason", "text") else refused.field
            raise ApiError(refused.code, refused.message, status_code=refused.status, field=field) from refused
        case.refresh_from_db()
        return Response(CaseSerializer(case).data)


urlpatterns = [
    path("regulator/queue/", RegulatorQueueView.as_view(), name="regulator-queue"),
    path("cases/<int:case_id>/", CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/actions/", CaseActionView.as_view(), name="case-action"),
]
