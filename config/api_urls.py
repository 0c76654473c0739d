"""The versioned REST API (/api/v1/), gathered from the apps."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api")),
    path("", include("delivery.api")),
    path("", include("delivery.board_api")),
    path("", include("dispatch.api")),
    path("", include("compliance.cases.api")),
    path("", include("compliance.cases.complaints_api")),
]
