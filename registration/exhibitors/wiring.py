"""What 供采对接 registers at start-up; called from ``RegistrationConfig.ready()``."""

from . import wiring_directory, wiring_matching, wiring_meetings


def ready() -> None:
    wiring_directory.ready()
    wiring_matching.ready()
    wiring_meetings.ready()
