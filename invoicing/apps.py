from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = _("Invoices")

    def ready(self):
        from .cloning import register as register_cloner  # cloning an edition: invoice types
        from .retention import register  # this app's part of shredding an edition

        register()
        register_cloner()
