"""This app's part of the registration dashboard and the delegation overview (steps 7 证件制作
and 8 证件发放; the 往届订单 of earlier editions), registered with ``registration.progress`` in
``CredentialsConfig.ready()``."""

from django.db.models import Count, Q

from credentials.issuance.selectors import issued_q
from credentials.production.models import Credential
from registration.progress import (
    register_admissions,
    register_credential_progress,
    register_past_orders,
    register_payment_deadline,
)

from .entry.selectors import admissions
from .orders.reminders import unit_next_payment_deadline
from .orders.selectors import orders_of_past_units


def credential_progress(visitors) -> dict[str, int]:
    """How many of ``visitors`` have a valid credential (produced), and how many of those
        reached their holder (in a shipped parcel, or on a pick-up list handed over), and how many
    entered the expo at least once. Two queries."""
    counts = visitors.filter(credentials__status=Credential.Status.ACTIVE).aggregate(
        produced=Count("pk", distinct=True),
        issued=Count("pk", distinct=True, filter=issued_q("credentials__")),
    )
    counts["entered"] = visitors.filter(
        Q(credentials__scans__admitted=True, credentials__scans__direction="in")
    ).aggregate(n=Count("pk", distinct=True))["n"]
    return counts


def gate_admissions(visitors, edition_id: int) -> dict:
    """Admissions of ``visitors`` per day, day and gate, and hour (``entry.selectors``)."""
    return admissions(edition_id, visitors=visitors)


def register() -> None:
    """Called from ``CredentialsConfig.ready()``."""
    register_credential_progress(credential_progress)
    register_admissions(gate_admissions)
    register_past_orders(orders_of_past_units)
    register_payment_deadline(unit_next_payment_deadline)
