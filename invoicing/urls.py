from django.urls import path

from . import views, views_delegation

app_name = "invoicing"

urlpatterns = [
    path("orders/<str:number>/", views.order_invoices, name="order_invoices"),
    path("orders/<str:number>/request/", views.invoice_request_view, name="request"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/pdf/", views.invoice_download, name="pdf"),
    path("<int:pk>/logistics/", views.invoice_logistics, name="logistics"),
    path("<int:pk>/reverse/", views.invoice_reverse_view, name="reverse"),
    path("profiles/", views.profiles, name="profiles"),
    # 交易团代付: the delegation's consolidated order, for its secretaries.
    path(
        "delegation-orders/<str:number>/",
        views_delegation.delegation_invoices,
        name="delegation_invoices",
    ),
    path(
        "delegation-orders/<str:number>/<int:pk>/pdf/",
        views_delegation.delegation_invoice_pdf,
        name="delegation_invoice_pdf",
    ),
    path("profiles/<int:pk>/delete/", views.profile_delete, name="profile_delete"),
]
