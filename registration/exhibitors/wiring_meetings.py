"""What the meetings part registers at start-up (called from ``wiring.ready()``)."""


def ready() -> None:
    from registration.progress import register_dashboard_panel

    from .meetings import dashboard_panel

    # The panel asks the database nothing while the edition lists no exhibitor: the directory
    # keeps that fact in the shared cache (``directory.edition_has_exhibitors``).
    register_dashboard_panel(dashboard_panel)
