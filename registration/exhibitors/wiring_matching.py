"""What the matching part registers at start-up (called from ``wiring.ready()``)."""


def ready() -> None:
    from registration.progress import register_dashboard_panel

    from .matching import dashboard_panel

    # The panel asks the database nothing while the edition lists no exhibitor: that fact is
    # kept in the shared cache under the directory's topic, read anew when an exhibitor is
    # saved or deleted (registered by the directory's wiring, and here for the fallback).
    _watch_exhibitors()
    register_dashboard_panel(dashboard_panel)


def _watch_exhibitors() -> None:
    from ciie_portal import read_cache

    from .matching import CACHE_TOPIC
    from .models import Exhibitor

    read_cache.forget_on_change(CACHE_TOPIC, Exhibitor)
