from django.urls import path

from . import views

app_name = "delegations"

urlpatterns = [
    path("units/<int:pk>/licence/", views.unit_licence, name="unit_licence"),
    path("visitors/<int:pk>/photo/", views.visitor_photo, name="visitor_photo"),
]
