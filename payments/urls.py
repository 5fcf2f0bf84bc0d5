from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("orders/<str:number>/pay/", views.payment_start, name="start"),
    path("sandbox/<int:payment_id>/", views.sandbox, name="sandbox"),
    path("notify/<str:provider>/", views.notify, name="notify"),
]
