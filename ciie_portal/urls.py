from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import views

admin.site.site_header = _("CIIE professional visitors — administration")
admin.site.site_title = _("CIIE portal administration")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/orders/", include("credentials.urls")),
    path("accounts/", include("registration.urls")),
    path("staff/", include("delegations.urls")),
    path("payments/", include("payments.urls")),
    path("invoices/", include("invoicing.urls")),
    path("admin/", admin.site.urls),
]
