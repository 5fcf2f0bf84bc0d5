"""The public home page at the site root, outside the ``delegations`` namespace (its URL name
stays ``landing``). Included by the project URLconf at ``""``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
]
