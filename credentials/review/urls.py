"""The unit's 注销 of a visitor, under ``accounts/orders/`` in the ``credentials`` namespace
(``credentials/urls.py``)."""

from django.urls import path

from . import views

urlpatterns = [
    # 注销: the unit cancels one of its visitors (from 已提交 onward).
    path("visitors/<int:pk>/cancel/", views.visitor_cancel_view, name="visitor_cancel"),
]
