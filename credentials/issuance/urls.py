"""证件发放: the unit's credentials, parcels (查看物流) and pick-up by the delegation, at
``accounts/credentials/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.issuance, name="credential_issuance"),
]
