"""The privacy policy (隐私政策) of an edition: which version is in force.

Versions are written in the admin (``admin_policy.py``); a published version is never edited, a
change is a new version. The one in force is the edition's highest published version; unit
accounts accept it at registration and each newer one at their next request
(``registration.consent``)."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import Edition, PrivacyPolicy
from .read_cache import kept


def policy_in_force(edition) -> PrivacyPolicy | None:
    """The edition's latest published version, or None when none is published yet."""
    if edition is None:
        return None
    return (
        PrivacyPolicy.objects.filter(edition=edition, published_at__isnull=False)
        .select_related("edition")
        .order_by("-version")
        .first()
    )


def policy_in_force_now() -> PrivacyPolicy | None:
    """The current edition's policy in force, kept in the shared cache (``read_cache``: read
    anew when a policy or an edition changes)."""
    return kept(
        "edition",
        "policy-in-force",
        lambda: (
            PrivacyPolicy.objects.filter(edition__is_current=True, published_at__isnull=False)
            .select_related("edition")
            .order_by("-version")
            .first()
        ),
    )


def policy_next_version(edition: Edition) -> int:
    """The number a new version of ``edition``'s policy gets (call inside a transaction: the
    edition row is locked so that two organisers adding at once do not pick the same one)."""
    Edition.objects.select_for_update().filter(pk=edition.pk).first()
    highest = PrivacyPolicy.objects.filter(edition=edition).aggregate(v=Max("version"))["v"]
    return (highest or 0) + 1


def policy_publish(policy: PrivacyPolicy) -> bool:
    """Publish a draft: from now on it is the version in force (if no higher one is) and it is
    never edited again. False when it was published already."""
    with transaction.atomic():
        return bool(
            PrivacyPolicy.objects.filter(pk=policy.pk, published_at__isnull=True).update(
                published_at=timezone.now()
            )
        )
