"""What the meetings part registers at start-up (called from ``wiring.ready()``)."""


def ready() -> None:
    pass
