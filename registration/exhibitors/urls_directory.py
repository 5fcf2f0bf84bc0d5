"""The directory pages' URLs (included by ``urls.py``, in the registration namespace)."""

from django.urls import path

from . import views_directory

urlpatterns = [
    path("exhibitors/", views_directory.directory, name="exhibitor_directory"),
    path("exhibitors/<int:pk>/", views_directory.exhibitor_detail, name="exhibitor_detail"),
]
