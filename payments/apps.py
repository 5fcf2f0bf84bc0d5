from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments and refunds")

    def ready(self):
        from .retention import register  # this app's part of shredding an edition

        register()
        from .list_filters import register as register_list_filters  # 按支付状态

        register_list_filters()
        from .grace import register as register_grace  # orders held open for finance

        register_grace()
        from .exports import register as register_exports  # scheduled exports (finance)

        register_exports()
        from . import ops_figures  # noqa: F401  (registers this app's operational figures)
        from .ops_series import register as register_series  # the operations page's charts

        register_series()
