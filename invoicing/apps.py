from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = _("Invoices")

    def ready(self):
        from .retention import register  # this app's part of shredding an edition

        register()
