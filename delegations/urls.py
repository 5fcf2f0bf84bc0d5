from django.urls import path

from . import views, views_bulk, views_overview

app_name = "delegations"

urlpatterns = [
    path("units/<int:pk>/licence/", views.unit_licence, name="unit_licence"),
    path("visitors/<int:pk>/photo/", views.visitor_photo, name="visitor_photo"),
    path("bulk/template.xlsx", views_bulk.bulk_template, name="bulk_template"),
    path("bulk/", views_bulk.bulk_register_view, name="bulk_register"),
    path("overview/", views_overview.overview, name="overview"),
    path("mail/", views_overview.group_mail, name="group_mail"),
]
