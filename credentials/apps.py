from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CredentialsConfig(AppConfig):
    name = "credentials"
    verbose_name = _("Credentials")

    def ready(self):
        from delegations.admin import visitor_action_register

        from .progress import register  # steps 7–8 of the registration dashboard
        from .review.admin import cancel_visitors

        register()
        from .retention import register as register_shredders  # shredding an edition

        register_shredders()
        from .list_columns import register as register_list_columns  # 证件状态, fee, 订单状态

        register_list_columns()
        # 注销 by staff, from the visitor list (the delegations app's admin, which may not
        # import this app).
        visitor_action_register(cancel_visitors)
        from .cloning import register as register_cloners  # cloning an edition: entry rules

        register_cloners()
        from . import ops_figures  # noqa: F401  (registers this app's operational figures)
        from .ops_series import register as register_series  # the operations page's charts

        register_series()
        from .points.wiring import ready as points_ready  # 积分: hooks, panel, admin, cloner

        points_ready()
