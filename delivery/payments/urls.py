from django.urls import path

from delivery.payments import views

app_name = "payments"

urlpatterns = [
    path("sandbox/<str:provider_ref>/", views.sandbox_page, name="sandbox_page"),
    path("webhooks/<str:provider_name>/", views.webhook_receive, name="webhook"),
]
