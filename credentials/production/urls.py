"""入场核验: the gate's page and JSON endpoint, at ``gate/`` (namespace ``gate``)."""

from django.urls import path

from . import views

app_name = "gate"
urlpatterns = [
    path("", views.gate_page, name="page"),
    path("check/", views.gate_check, name="check"),
]
