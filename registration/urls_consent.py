"""Accepting a new version of the privacy policy: ``/privacy/accept/`` (namespace ``consent``)."""

from django.urls import path

from . import views_consent

app_name = "consent"

urlpatterns = [
    path("", views_consent.consent_accept, name="accept"),
]
