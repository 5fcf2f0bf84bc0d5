from django.urls import path

from . import views, views_delegation, views_refunds

app_name = "payments"

urlpatterns = [
    path("orders/<str:number>/pay/", views.payment_start, name="start"),
    path("orders/<str:number>/transfer/", views.transfer, name="transfer"),
    path("transfers/<int:payment_id>/voucher/", views.voucher, name="voucher"),
    path("sandbox/<int:payment_id>/", views.sandbox, name="sandbox"),
    path("notify/<str:provider>/", views.notify, name="notify"),
    path("refunds/new/", views_refunds.refund_request, name="refund_request"),
    # 交易团代付: the delegation's consolidated order, paid by bank transfer (secretaries).
    path(
        "delegation-orders/<str:number>/transfer/",
        views_delegation.delegation_transfer,
        name="delegation_transfer",
    ),
    path(
        "delegation-orders/<str:number>/refund/",
        views_delegation.delegation_refund,
        name="delegation_refund",
    ),
    path(
        "delegation-orders/<str:number>/transfers/<int:payment_id>/voucher/",
        views_delegation.delegation_voucher,
        name="delegation_voucher",
    ),
]
