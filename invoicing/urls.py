from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("orders/<str:number>/", views.order_invoices, name="order_invoices"),
    path("orders/<str:number>/request/", views.invoice_request_view, name="request"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/pdf/", views.invoice_download, name="pdf"),
    path("<int:pk>/logistics/", views.invoice_logistics, name="logistics"),
    path("<int:pk>/reverse/", views.invoice_reverse_view, name="reverse"),
    path("profiles/", views.profiles, name="profiles"),
    path("profiles/<int:pk>/delete/", views.profile_delete, name="profile_delete"),
]
