from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CiiePortalConfig(AppConfig):
    name = "ciie_portal"
    verbose_name = _("Expo editions and system records")

    def ready(self):
        from . import read_cache
        from .models import Edition, EntryPeriod
        from .notices import retention

        retention.register()
        # An edition's entry periods are kept in the shared cache (the landing page).
        read_cache.forget_on_change("edition", Edition, EntryPeriod)
