from django.urls import path

from . import views, views_refunds

app_name = "payments"

urlpatterns = [
    path("orders/<str:number>/pay/", views.payment_start, name="start"),
    path("orders/<str:number>/transfer/", views.transfer, name="transfer"),
    path("transfers/<int:payment_id>/voucher/", views.voucher, name="voucher"),
    path("sandbox/<int:payment_id>/", views.sandbox, name="sandbox"),
    path("notify/<str:provider>/", views.notify, name="notify"),
    path("refunds/new/", views_refunds.refund_request, name="refund_request"),
]
