from django.urls import path

from frontend import (
    board,
    board_menu,
    complaint_pages,
    compliance_pages,
    courier,
    credit_pages,
    diner,
    inspection_pages,
    regulator_pages,
    views,
)

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
    # The restaurant's pages (frontend.board).
    path("board/", board.board_index, name="board_index"),
    path("board/<int:store_id>/", board.board_page, name="board"),
    path("board/<int:store_id>/tickets/<str:number>/", board.ticket_page, name="board_ticket"),
    path("board/<int:store_id>/menu/", board.menu_page, name="board_menu"),
    path("board/<int:store_id>/menu/new/", board_menu.item_edit, name="board_menu_new"),
    path("board/<int:store_id>/menu/<int:item_id>/", board_menu.item_edit, name="board_menu_item"),
    path("board/<int:store_id>/menu/categories/", board_menu.category_post, name="board_menu_category"),
    path("board/<int:store_id>/menu/<int:item_id>/groups/", board_menu.option_group_post, name="board_menu_group"),
    path("board/<int:store_id>/menu/groups/<int:group_id>/options/", board_menu.option_post, name="board_menu_option"),
    path("board/<int:store_id>/menu/sets/new/", board_menu.set_meal_edit, name="board_set_meal_new"),
    path("board/<int:store_id>/menu/sets/<int:set_meal_id>/", board_menu.set_meal_edit, name="board_set_meal"),
    path("board/<int:store_id>/menu/<str:kind>/<int:object_id>/sold-out/", board.menu_sold_out, name="board_sold_out"),
    path("board/<int:store_id>/performance/", board.performance_page, name="board_performance"),
    path("board/<int:store_id>/reconciliation/", board.reconciliation_page, name="board_reconciliation"),
    path("board/<int:store_id>/reviews/", board.reviews_page, name="board_reviews"),
    path("board/<int:store_id>/reviews/<int:review_id>/reply/", board.review_reply_post, name="board_review_reply"),
    path("board/<int:store_id>/settings/", board.settings_page, name="board_settings"),
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
    # Inspections (frontend.inspection_pages): the regulator's form, the public page, the reply.
    path("regulator/stores/<int:store_id>/inspect/", inspection_pages.inspection_new, name="inspection_new"),
    path("inspections/<int:inspection_id>/", inspection_pages.inspection_page, name="inspection"),
    path(
        "merchant/stores/<int:store_id>/inspections/", inspection_pages.store_inspections_page, name="store_inspections"
    ),
    path("inspections/<int:inspection_id>/reply/", inspection_pages.inspection_reply, name="inspection_reply"),
    path("open-data/inspections.json", inspection_pages.open_data_json, name="open_data_json"),
    path("open-data/inspections.csv", inspection_pages.open_data_csv, name="open_data_csv"),
    path("open-data/lives/<slug:name>.csv", inspection_pages.open_data_lives, name="open_data_lives"),
    path("orders/<str:number>/complaint/", complaint_pages.order_complaint, name="order_complaint"),
    path("complaints/<int:complaint_id>/close/", complaint_pages.complaint_close_view, name="complaint_close"),
    # Restaurants: their complaints and their regulatory cases.
    path("merchant/complaints/", complaint_pages.store_complaints, name="store_complaints"),
    # Operators: escalated complaints (breached deadlines), closed or referred to regulators.
    path("operator/complaints/", complaint_pages.operator_complaints, name="operator_complaints"),
    path(
        "operator/complaints/<int:complaint_id>/",
        complaint_pages.operator_complaint_act,
        name="operator_complaint_act",
    ),
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
