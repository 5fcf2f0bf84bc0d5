"""A visitor's sign-up for a side event (配套活动报名) and its states.

Imported by ``registration.models`` (Django finds the app's models there)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ciie_portal.states import StateMachine


class SideEventSignup(models.Model):
    class Status(models.TextChoices):
        # In a context of their own: "Cancelled" is 已注销 for a visitor, 已取消 here.
        PENDING = "pending", pgettext_lazy("side event sign-up", "Awaiting approval")
        CONFIRMED = "confirmed", pgettext_lazy("side event sign-up", "Signed up")
        WAITING = "waiting", pgettext_lazy("side event sign-up", "On the waiting list")
        DECLINED = "declined", pgettext_lazy("side event sign-up", "Declined")
        CANCELLED = "cancelled", pgettext_lazy("side event sign-up", "Cancelled")

    event = models.ForeignKey(
        "ciie_portal.SideEvent",
        on_delete=models.PROTECT,
        related_name="signups",
        verbose_name=_("side event"),
    )
    unit = models.ForeignKey(
        "registration.Unit",
        on_delete=models.PROTECT,
        related_name="side_event_signups",
        verbose_name=_("unit"),
    )
    visitor = models.ForeignKey(
        "registration.Visitor",
        on_delete=models.PROTECT,
        related_name="side_event_signups",
        verbose_name=_("visitor"),
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    created_at = models.DateTimeField(_("signed up"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("side event sign-up")
        verbose_name_plural = _("side event sign-ups")
        # The waiting list's order is the order of sign-up: the primary key.
        ordering = ["event", "pk"]
        constraints = [
            # One sign-up of a visitor per event, until it is cancelled (then the unit may sign
            # the visitor up again; a declined one stays, and so refuses a second try).
            models.UniqueConstraint(
                fields=["event", "visitor"],
                condition=~Q(status="cancelled"),
                name="one_signup_per_event_and_visitor",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "status"], name="signup_event_status"),
            models.Index(fields=["unit", "event"], name="signup_unit_event"),
        ]
        permissions = [
            ("decide_sideeventsignup", _("Can approve and decline side event sign-ups")),
        ]

    def __str__(self):
        # Names only when they are at hand: a bulk action's audit entries name thousands of
        # sign-ups, which must not cost a query each.
        cls = type(self)
        visitor = self.visitor.name if cls.visitor.is_cached(self) else f"#{self.visitor_id}"
        event = str(self.event) if cls.event.is_cached(self) else f"#{self.event_id}"
        return f"{visitor} · {event}"

    @property
    def holds_place(self) -> bool:
        return self.status in HOLDING


_S = SideEventSignup.Status

#: Sign-ups that hold one of the event's places. Those awaiting approval hold theirs too: a
#: place promised to one of them is not promised to anybody else meanwhile.
HOLDING = (_S.PENDING, _S.CONFIRMED)
#: Sign-ups a unit or the organiser may still act on.
ACTIVE = (_S.PENDING, _S.CONFIRMED, _S.WAITING)

SIGNUP_STATES = StateMachine(
    name="side_event_signup",
    choices=SideEventSignup.Status,
    moves={
        # Approved by the organiser, declined, or given back by the unit.
        _S.PENDING: {_S.CONFIRMED, _S.DECLINED, _S.CANCELLED},
        _S.CONFIRMED: {_S.DECLINED, _S.CANCELLED},
        # Moved up into a place given back (awaiting approval where the event needs it).
        _S.WAITING: {_S.PENDING, _S.CONFIRMED, _S.DECLINED, _S.CANCELLED},
        _S.DECLINED: set(),
        _S.CANCELLED: set(),
    },
)
