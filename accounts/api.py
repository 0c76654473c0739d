"""Accounts API: who am I, with my roles (the web app uses it to build its navigation)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import user_roles


class MeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    phone = serializers.CharField(help_text="Masked mobile number.")
    roles = serializers.ListField(child=serializers.CharField())


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "display_name": getattr(user, "display_name", ""),
            "phone": getattr(user, "phone_masked", ""),
            "roles": sorted(role.value for role in user_roles(user)),
        }
        return Response(MeSerializer(data).data)


urlpatterns = [path("me/", MeView.as_view(), name="api-me")]
