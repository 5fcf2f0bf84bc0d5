from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationConfig(AppConfig):
    name = "registration"
    verbose_name = _("Registration")

    def import_models(self):
        super().import_models()
        # 配套活动报名: the sign-up's table lives in its own package.
        import_module(f"{self.name}.side_events.models")
        # 供采对接: the exhibitor directory, favourites and meetings.
        import_module(f"{self.name}.exhibitors.models")

    def ready(self):
        from .retention import register  # this app's part of shredding an edition

        register()
        from .cloning import register as register_cloners  # cloning an edition: new codes

        register_cloners()
        from .side_events.wiring import ready as side_events_ready  # 配套活动报名

        side_events_ready()
        from .exhibitors.wiring import ready as exhibitors_ready  # 供采对接

        exhibitors_ready()
        from . import ops_figures  # noqa: F401  (registers this app's operational figures)
        from .ops_series import register as register_series  # the operations page's charts

        register_series()
        from ciie_portal import read_cache

        from .models import WatchlistEntry
        from .watchlist import CACHE_TOPIC as WATCHLIST_TOPIC

        read_cache.forget_on_change(WATCHLIST_TOPIC, WatchlistEntry)
        from django.contrib.auth.signals import user_logged_in

        from .consent import note_acceptance_at_sign_in

        user_logged_in.connect(
            note_acceptance_at_sign_in, dispatch_uid="registration.consent.at-sign-in"
        )
        from .auth import note_unit_contact

        user_logged_in.connect(note_unit_contact, dispatch_uid="registration.auth.unit-contact")
