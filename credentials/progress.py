"""This app's part of the registration dashboard and the delegation overview (steps 7 证件制作
and 8 证件发放), registered with ``registration.progress`` in ``CredentialsConfig.ready()``."""

from django.db.models import Count

from credentials.issuance.selectors import issued_q
from credentials.production.models import Credential
from registration.progress import register_credential_progress


def credential_progress(visitors) -> dict[str, int]:
    """How many of ``visitors`` have a valid credential (produced), and how many of those
    reached their holder (in a shipped parcel, or on a pick-up list handed over). One query."""
    return visitors.filter(credentials__status=Credential.Status.ACTIVE).aggregate(
        produced=Count("pk", distinct=True),
        issued=Count("pk", distinct=True, filter=issued_q("credentials__")),
    )


def register() -> None:
    """Called from ``CredentialsConfig.ready()``."""
    register_credential_progress(credential_progress)
