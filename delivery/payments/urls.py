from django.urls import path  # noqa: F401 - the payments work fills these in

app_name = "payments"

urlpatterns: list[object] = []
