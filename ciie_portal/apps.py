from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CiiePortalConfig(AppConfig):
    name = "ciie_portal"
    verbose_name = _("Expo editions and system records")

    def ready(self):
        from .notices import retention

        retention.register()
