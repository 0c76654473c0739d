from django.urls import path

from frontend import compliance_pages, diner, views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
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
    # Compliance (frontend.compliance_pages): the merchant's papers, the operator's admission.
    path(
        "merchant/stores/<int:store_id>/compliance/", compliance_pages.merchant_compliance, name="merchant_compliance"
    ),
    path("operator/admission/", compliance_pages.operator_admission, name="operator_admission"),
    path(
        "operator/licences/<int:licence_id>/review/",
        compliance_pages.operator_licence_review,
        name="operator_licence_review",
    ),
    path("operator/stores/<int:store_id>/admit/", compliance_pages.operator_store_admit, name="operator_store_admit"),
]
