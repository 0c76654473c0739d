from django.urls import path

from frontend import complaint_pages, credit_pages, diner, regulator_pages, views

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
    path("orders/<str:number>/complaint/", complaint_pages.order_complaint, name="order_complaint"),
    path("complaints/<int:complaint_id>/close/", complaint_pages.complaint_close_view, name="complaint_close"),
    # Restaurants: their complaints and their regulatory cases.
    path("merchant/complaints/", complaint_pages.store_complaints, name="store_complaints"),
    path("merchant/complaints/<int:complaint_id>/", complaint_pages.store_complaint_act, name="store_complaint_act"),
    path("merchant/cases/", regulator_pages.merchant_cases, name="merchant_cases"),
    path("merchant/cases/<int:case_id>/", regulator_pages.merchant_case, name="merchant_case"),
    # Regulators (compliance.cases).
    path("regulator/", regulator_pages.dashboard, name="regulator"),
    path("regulator/flags/<int:flag_id>/case/", regulator_pages.flag_take, name="regulator_flag_take"),
    path("regulator/cases/<int:case_id>/", regulator_pages.case_page, name="regulator_case"),
    path("regulator/cases/<int:case_id>/<str:action>/", regulator_pages.case_act, name="regulator_case_act"),
    # The public credit record.
    path("credit/", credit_pages.credit_search_page, name="credit_search"),
    path("credit/entities/<str:uscc>/", credit_pages.credit_entity, name="credit_entity"),
    path("credit/stores/<int:store_id>/", credit_pages.credit_store, name="credit_store"),
]
