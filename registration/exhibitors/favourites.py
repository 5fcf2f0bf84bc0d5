"""A unit's favourite exhibitors (收藏) and its matching preferences: the services that write
them (each change audited) and what the pages read.

Adding and removing are idempotent: a favourite kept already, or one not kept, changes
nothing and records nothing — a double click, or two colleagues of the unit clicking at once,
keeps one row (``favourite_once`` settles a race).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_changes, audit_record

from .models import Exhibitor, Favourite, MatchingProfile


def _data(favourite: Favourite, exhibitor: Exhibitor) -> dict:
    return {
        "unit": favourite.unit_id,
        "exhibitor": exhibitor.pk,
        "exhibitor_code": exhibitor.code,
        "exhibitor_name": exhibitor.name,
    }


def favourite_add(*, unit, exhibitor: Exhibitor, actor) -> tuple[Favourite, bool]:
    """``unit`` keeps ``exhibitor`` (a listed one of its edition). Returns (the favourite,
    whether it is new); audited ``favourite.add`` when it is."""
    if exhibitor.edition_id != unit.edition_id or not exhibitor.is_listed:
        raise ValidationError(_("This exhibitor is not listed at this expo."))
    found = Favourite.objects.filter(unit_id=unit.pk, exhibitor_id=exhibitor.pk).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            favourite = Favourite.objects.create(unit_id=unit.pk, exhibitor=exhibitor)
            audit_record(
                actor=actor,
                obj=favourite,
                action="favourite.add",
                data=_data(favourite, exhibitor),
            )
    except IntegrityError:
        # Another request of the unit kept it a moment ago: that row stands, and its record.
        return Favourite.objects.get(unit_id=unit.pk, exhibitor_id=exhibitor.pk), False
    return favourite, True


def favourite_remove(*, unit, exhibitor: Exhibitor, actor) -> bool:
    """``unit`` no longer keeps ``exhibitor``. Whether a favourite was removed; audited
    ``favourite.remove`` when one was."""
    with transaction.atomic():
        favourite = (
            Favourite.objects.select_for_update()
            .filter(unit_id=unit.pk, exhibitor_id=exhibitor.pk)
            .first()
        )
        if favourite is None:
            return False
        audit_record(
            actor=actor,
            obj=favourite,
            action="favourite.remove",
            data=_data(favourite, exhibitor),
        )
        favourite.delete()
    return True


def favourite_ids(unit, exhibitor_ids) -> set[int]:
    """Which of ``exhibitor_ids`` the unit keeps (one query): for a page of exhibitors that
    shows ``_favourite_button.html`` on each."""
    ids = list(exhibitor_ids)
    if not ids:
        return set()
    return set(
        Favourite.objects.filter(unit_id=unit.pk, exhibitor_id__in=ids).values_list(
            "exhibitor_id", flat=True
        )
    )


def favourites_of(unit):
    """The unit's favourites with their exhibitors, newest first (a queryset, for a page)."""
    return (
        Favourite.objects.filter(unit_id=unit.pk)
        .select_related("exhibitor")
        .order_by("-created_at", "-pk")
    )


def matching_profile_save(*, unit, countries, actor) -> MatchingProfile:
    """The countries and regions whose exhibitors ``unit`` wants to see (matching
    preferences), kept sorted without repeats; audited ``matching_profile.change`` with what
    changed (nothing recorded when nothing did)."""
    wanted = sorted({str(code).upper() for code in countries if code})
    with transaction.atomic():
        profile, created = MatchingProfile.objects.select_for_update().get_or_create(
            unit_id=unit.pk, defaults={"countries": wanted}
        )
        before = [] if created else list(profile.countries or [])
        if not created and before == wanted:
            return profile
        if not created:
            profile.countries = wanted
            profile.save(update_fields=["countries", "updated_at"])
        audit_record(
            actor=actor,
            obj=profile,
            action="matching_profile.change",
            data=audit_changes({"countries": before}, {"countries": wanted}),
        )
    return profile
