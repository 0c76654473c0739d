from django.urls import path

from dispatch.consumers import CourierConsumer, OrderTrackingConsumer

websocket_urlpatterns = [
    path("ws/courier/", CourierConsumer.as_asgi()),
    path("ws/orders/<str:number>/track/", OrderTrackingConsumer.as_asgi()),
]
