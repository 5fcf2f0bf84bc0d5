"""The edition's visitor-facing windows, in Beijing time (``TIME_ZONE``): the one home of their
rules, so that services (not only pages) enforce them.

**Registration window** (``Edition.registration_opens_at`` … ``registration_closes_at``, both
ends included). Inside it a unit contact, an individual registrant, a returning unit and a
colleague joining through an invite link may open an account, bring an earlier registration
forward, add visitors, submit visitors and submit the unit. Outside it they are refused with the
window in Beijing time and what to do (ask the delegation).

Who is bound: everyone acting through the visitor pages — a signed-in contact (a user who is not
staff) and an anonymous colleague (``actor=None``). Who is not: staff working in the admin
(``actor.is_staff``: secretaries registering visitors in bulk, organisers) and the system itself
(an actor given as a label such as ``"system"`` or ``"demo"``).

**Entry-day changes** (``registration.services.visitor_change_entry_days``) are *not* bound by
the registration window: SPEC §10 names them as their own window, "until the order". A visitor
registered in time may still change the days (and so the fee) after registration closes, until
the visitor is in a credential order; from then on the order's payment deadlines apply.

Organisers move a window in the Edition admin; every change of a window field is audited
(``edition_window_changes_record``).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import audit_record
from .models import Edition
from .timefmt import MINUTE, local_text

OPEN = "open"
NOT_YET_OPEN = "not_yet_open"
CLOSED = "closed"

#: The Edition fields that are windows or deadlines; a change of any of them is audited.
WINDOW_FIELDS = (
    "registration_opens_at",
    "registration_closes_at",
    "transfer_deadline",
    "online_payment_deadline",
    "order_payment_window",
)


def beijing_text(value: datetime | None) -> str:
    """``value`` as people in Beijing read it: "2027-10-20 23:59" (never the UTC 15:59)."""
    return local_text(value, MINUTE)


def is_bound(actor) -> bool:
    """Whether ``actor`` must keep to the visitor-facing window (see the module docstring)."""
    if isinstance(actor, str):
        return False  # "system", "demo": the portal itself
    if actor is None:
        return True  # a colleague joining through an invite link, or a new registrant
    return not getattr(actor, "is_staff", False)


@dataclass(frozen=True)
class RegistrationWindow:
    """The registration window of an edition as a page shows it."""

    state: str
    opens: str
    closes: str

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def message(self) -> str:
        """What the page (or the refusal) says when the window is not open; "" when it is."""
        if self.state == NOT_YET_OPEN:
            return _(
                "Registration is not open yet: it opens at %(opens)s and closes at %(closes)s "
                "(Beijing time). Please come back then."
            ) % {"opens": self.opens, "closes": self.closes}
        if self.state == CLOSED:
            return _(
                "Registration closed at %(closes)s (Beijing time; it was open from %(opens)s). "
                "Units can no longer register or add visitors here: please contact your "
                "delegation."
            ) % {"opens": self.opens, "closes": self.closes}
        return ""


def registration_window(edition: Edition, *, now: datetime | None = None) -> RegistrationWindow:
    now = now or timezone.now()
    if now < edition.registration_opens_at:
        state = NOT_YET_OPEN
    elif now > edition.registration_closes_at:
        state = CLOSED
    else:
        state = OPEN
    return RegistrationWindow(
        state=state,
        opens=beijing_text(edition.registration_opens_at),
        closes=beijing_text(edition.registration_closes_at),
    )


def registration_window_check(*, edition: Edition, actor, now: datetime | None = None) -> None:
    """Refuse (ValidationError) a visitor-facing registration step outside the window.

    Staff and the system are not bound; see the module docstring.
    """
    if not is_bound(actor):
        return
    window = registration_window(edition, now=now)
    if not window.is_open:
        raise ValidationError(window.message, code=f"registration_{window.state}")


# --- Organisers move windows (audited) ------------------------------------------------------


def _window_value_text(value) -> str:
    if isinstance(value, datetime):
        return beijing_text(value)
    if isinstance(value, timedelta):
        minutes = int(value.total_seconds() // 60)
        return f"{minutes} min"
    return "" if value is None else str(value)


def window_values(edition: Edition) -> dict:
    return {field: getattr(edition, field) for field in WINDOW_FIELDS}


def edition_window_changes_record(*, edition: Edition, before: dict, actor) -> list[str]:
    """Audit each window field of ``edition`` that differs from ``before`` (its values as read
    before the change): one row per field, from and to in Beijing time, by ``actor``. Returns
    the names of the changed fields."""
    changed = []
    for field in WINDOW_FIELDS:
        old, new = before.get(field), getattr(edition, field)
        if old == new:
            continue
        changed.append(field)
        audit_record(
            actor=actor,
            obj=edition,
            action="edition.window_change",
            from_state=_window_value_text(old)[:32],
            to_state=_window_value_text(new)[:32],
            data={"field": field},
        )
    return changed
