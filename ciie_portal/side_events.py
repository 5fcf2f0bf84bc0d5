"""What the side events' own screens (``ciie_portal.admin`` ``SideEventAdmin``, the model's
``clean``) need to know of their sign-ups, which live in an app above this one
(``registration.side_events``): which visitor labels there are, how many places an event's
sign-ups hold, and what to do once an organiser changed an event (move waiting sign-ups up
into places added).

The registration app fills these in from its ``AppConfig.ready()``
(``registration.side_events.wiring``); this app never names its models.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SignupHooks:
    #: ``[(value, label), …]`` of the visitor labels an event may be opened to.
    label_choices: Callable[[], list]
    #: ``{event id: places held}`` for the given event ids (sign-ups holding a place).
    places_held: Callable[[Iterable[int]], dict]
    #: Called in the transaction of an organiser's change of ``event``, its row locked: moves
    #: waiting sign-ups up into places added.
    event_changed: Callable[..., None]
    #: The admin list of an event's sign-ups, or "" (a link from the event's admin).
    signups_url: Callable[[int], str]


_hooks: SignupHooks | None = None


def register_signup_hooks(hooks: SignupHooks) -> None:
    global _hooks
    _hooks = hooks


def signup_hooks() -> SignupHooks | None:
    return _hooks


def label_choices() -> list:
    return list(_hooks.label_choices()) if _hooks else []


def label_values() -> list[str]:
    return [value for value, _label in label_choices()]


def places_held(event_ids: Iterable[int]) -> dict:
    event_ids = list(event_ids)
    return _hooks.places_held(event_ids) if _hooks and event_ids else {}
