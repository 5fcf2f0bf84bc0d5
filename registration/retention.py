"""This app's part of shredding an edition's personal data (``ciie_portal.retention``): the
visitors' ID numbers (cipher text and blind index; the masked form stays), photos, mobiles,
emails and birth dates; the units' licences, contacts' mobiles and emails and form drafts; the
delivery addresses; the addresses and browsers on consent records; watchlist matches. Names,
units, what the overview counts and the fact of each consent stay."""

from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext_lazy as _

from ciie_portal.retention import Shredder, delete_files, redact_audit, register_shredder

from .models import ConsentRecord, DeliveryAddress, Unit, UnitDraft, Visitor, WatchlistMatch

# A shredded visitor's blind index: unique per row (the index is unique per edition), and no
# HMAC of anything.
SHREDDED = "shredded:"


def _visitors(edition):
    return Visitor.objects.filter(edition=edition).exclude(id_number_index__startswith=SHREDDED)


def _visitors_export(edition, archive):
    # A thousand at a time, by primary key (keyset, not OFFSET: as fast at the end as at the
    # start of 400,000).
    last, part = 0, 0
    while batch := list(_visitors(edition).filter(pk__gt=last).order_by("pk")[:1000]):
        archive.write_json(
            f"registration/visitors-{part:04d}.json",
            [
                {
                    "pk": v.pk,
                    "reference": v.reference,
                    "unit": v.unit_id,
                    "name": v.name,
                    "id_number": v.id_number,
                    "id_number_masked": v.id_number_masked,
                    "birth_date": v.birth_date,
                    "mobile": v.mobile,
                    "email": v.email,
                    "photo": v.photo.name,
                }
                for v in batch
            ],
        )
        for visitor in batch:
            if visitor.photo:
                archive.write_file(f"registration/photos/{visitor.pk}.jpg", visitor.photo.name)
        last, part = batch[-1].pk, part + 1


def _visitors_shred(edition, limit: int) -> int:
    batch = list(_visitors(edition).order_by("pk").values_list("pk", "photo")[:limit])
    if not batch:
        return 0
    ids = [pk for pk, _photo in batch]
    delete_files(photo for _pk, photo in batch)
    Visitor.objects.filter(pk__in=ids).update(
        id_number_encrypted="",
        id_number_index=Concat(Value(SHREDDED), Cast("pk", CharField())),
        birth_date=None,
        mobile="",
        email="",
        photo="",
    )
    redact_audit(Visitor, ids)
    return len(ids)


def _units(edition):
    return Unit.objects.filter(edition=edition).filter(
        ~Q(licence="") | ~Q(contact_mobile="") | ~Q(contact_email="") | Q(draft__isnull=False)
    )


def _units_export(edition, archive):
    units = list(
        Unit.objects.filter(edition=edition)
        .order_by("pk")
        .values("pk", "uscc", "name", "contact_name", "contact_mobile", "contact_email", "licence")
    )
    archive.write_json("registration/units.json", units)
    for unit in units:
        if unit["licence"]:
            archive.write_file(f"registration/licences/{unit['pk']}", unit["licence"])


def _units_shred(edition, limit: int) -> int:
    batch = list(_units(edition).order_by("pk").values_list("pk", "licence")[:limit])
    if not batch:
        return 0
    ids = [pk for pk, _licence in batch]
    delete_files(licence for _pk, licence in batch)
    UnitDraft.objects.filter(unit_id__in=ids).delete()
    Unit.objects.filter(pk__in=ids).update(licence="", contact_mobile="", contact_email="")
    redact_audit(Unit, ids)
    return len(ids)


def _addresses(edition):
    return DeliveryAddress.objects.filter(unit__edition=edition).exclude(mobile="")


def _addresses_export(edition, archive):
    archive.write_json(
        "registration/addresses.json",
        list(
            DeliveryAddress.objects.filter(unit__edition=edition)
            .order_by("pk")
            .values("pk", "unit", "recipient", "mobile", "province", "city", "address", "postcode")
        ),
    )


def _addresses_shred(edition, limit: int) -> int:
    # Blanked, not deleted: parcels and visitors still point at them.
    ids = list(_addresses(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    DeliveryAddress.objects.filter(pk__in=ids).update(
        recipient="—", mobile="", address="—", postcode="", district=""
    )
    redact_audit(DeliveryAddress, ids)
    return len(ids)


def _consents(edition):
    return ConsentRecord.objects.filter(policy__edition=edition).filter(
        Q(ip_address__isnull=False) | ~Q(user_agent="")
    )


def _consents_export(edition, archive):
    archive.write_json(
        "registration/consents.json",
        list(
            ConsentRecord.objects.filter(policy__edition=edition)
            .order_by("pk")
            .values("pk", "user", "policy", "kind", "accepted_at", "ip_address", "user_agent")
        ),
    )


def _consents_shred(edition, limit: int) -> int:
    # That the account accepted which version when stays: the proof of consent.
    ids = list(_consents(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    ConsentRecord.objects.filter(pk__in=ids).update(ip_address=None, user_agent="")
    return len(ids)


def _matches(edition):
    return WatchlistMatch.objects.filter(visitor__edition=edition)


def _matches_export(edition, archive):
    archive.write_json(
        "registration/watchlist-matches.json",
        list(
            _matches(edition)
            .order_by("pk")
            .values("pk", "visitor", "entry", "entry__reason", "matched_on", "matched_at")
        ),
    )


def _matches_shred(edition, limit: int) -> int:
    # Security's marks on people who came a year ago go (the watchlist itself stays).
    ids = list(_matches(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    WatchlistMatch.objects.filter(pk__in=ids).delete()
    redact_audit(WatchlistMatch, ids)
    return len(ids)


# name, what the organiser reads, what is still to shred, export, shred — in this order.
PARTS = [
    ("registration.visitors", _("Visitors: ID numbers, photos, mobiles, emails, birth dates"),
     _visitors, _visitors_export, _visitors_shred),
    ("registration.units", _("Units: licences, contacts' mobiles and emails, form drafts"),
     _units, _units_export, _units_shred),
    ("registration.addresses", _("Delivery addresses"),
     _addresses, _addresses_export, _addresses_shred),
    ("registration.consents", _("Consent records: addresses and browsers"),
     _consents, _consents_export, _consents_shred),
    ("registration.watchlist_matches", _("Watchlist matches"),
     _matches, _matches_export, _matches_shred),
]  # fmt: skip


def register() -> None:
    for name, label, pending, export, shred in PARTS:
        register_shredder(
            Shredder(
                name=name,
                label=label,
                preview=lambda edition, pending=pending: pending(edition).count(),
                export=export,
                shred=shred,
            )
        )
