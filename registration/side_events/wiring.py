"""What this package gives the lower app's side-event screens (``ciie_portal.side_events``)
and the shared cache; called from ``RegistrationConfig.ready()``."""

from django.urls import reverse

from ciie_portal import read_cache
from ciie_portal.models import SideEvent
from ciie_portal.side_events import SignupHooks, register_signup_hooks

from ..models import Label
from .services import CACHE_TOPIC, places_held, side_event_changed


def _signups_url(event_id: int) -> str:
    return (
        reverse("admin:registration_sideeventsignup_changelist") + f"?event__id__exact={event_id}"
    )


def ready() -> None:
    # The dashboard keeps an edition's published events in the shared cache: read anew when
    # an organiser saves one.
    read_cache.forget_on_change(CACHE_TOPIC, SideEvent)
    register_signup_hooks(
        SignupHooks(
            label_choices=lambda: list(Label.choices),
            places_held=places_held,
            event_changed=side_event_changed,
            signups_url=_signups_url,
        )
    )
