from django.urls import path

from frontend import courier, diner, views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    # The courier's web app (frontend.courier).
    path("courier/", courier.courier_app, name="courier"),
    # The diner's web app (frontend.diner).
    path("address/", diner.address_page, name="address"),
    path("stores/", diner.stores_page, name="stores"),
    path("stores/<int:store_id>/", diner.store_page, name="store"),
    path("cart/<int:store_id>/", diner.cart_page, name="cart"),
    path("cart/<int:store_id>/add/", diner.cart_add, name="cart_add"),
    path("cart/<int:store_id>/lines/<int:line_id>/", diner.cart_line_quantity, name="cart_line"),
    path("checkout/<int:store_id>/", diner.checkout, name="checkout"),
    path("orders/", diner.orders_page, name="orders"),
    path("orders/<str:number>/", diner.order_page, name="order"),
    path("orders/<str:number>/status/", diner.order_status, name="order_status"),
    path("orders/<str:number>/pay/", diner.order_pay, name="order_pay"),
    path("orders/<str:number>/reorder/", diner.order_reorder, name="order_reorder"),
    path("orders/<str:number>/rate/", diner.order_rate, name="order_rate"),
    path("orders/<str:number>/refund/", diner.order_refund, name="order_refund"),
]
