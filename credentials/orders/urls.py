"""The unit's order pages, under ``accounts/orders/`` in the ``credentials`` namespace
(``credentials/urls.py``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("new/", views.order_create_view, name="order_new"),
    path("<str:number>/", views.order_detail, name="order_detail"),
    path("<str:number>/cancel/", views.order_cancel_view, name="order_cancel"),
]
