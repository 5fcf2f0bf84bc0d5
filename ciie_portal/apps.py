from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CiiePortalConfig(AppConfig):
    name = "ciie_portal"
    verbose_name = _("Expo editions and system records")

    def ready(self):
        from . import read_cache
        from .models import Edition, EntryPeriod, PrivacyPolicy
        from .notices import retention

        retention.register()
        # Task log lines (started, succeeded...), staff roles remembered at sign-in for the logs.
        from . import logs, request_log  # noqa: F401

        # The current edition, its entry periods and the privacy policy in force are kept in
        # the shared cache (read on every request).
        read_cache.forget_on_change("edition", Edition, EntryPeriod, PrivacyPolicy)
        from . import ops_figures  # noqa: F401  (registers the portal's figures)
        from .ops_series import register as register_series  # the operations page's charts

        register_series()
