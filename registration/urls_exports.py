from django.urls import path

from . import views_exports

app_name = "exports"

urlpatterns = [
    path("", views_exports.export_list, name="list"),
    path("unsubscribe/<str:token>/", views_exports.unsubscribe, name="unsubscribe"),
]
