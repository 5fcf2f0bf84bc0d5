"""What the survey wires up when the ``delegations`` app is ready (``DelegationsConfig.ready``)."""


def ready() -> None:
    from ciie_portal import read_cache
    from registration.progress import register_dashboard_panel

    from . import admin  # noqa: F401  (the survey's admin pages)
    from .cloning import register as register_cloner
    from .models import Survey
    from .selectors import dashboard_panel

    # The open survey of each edition is kept in the shared cache (``selectors.open_survey``).
    read_cache.forget_on_change("survey", Survey)
    register_dashboard_panel(dashboard_panel)
    register_cloner()
