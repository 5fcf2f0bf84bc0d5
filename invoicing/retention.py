"""This app's part of shredding an edition's personal data (``ciie_portal.retention``): the
saved invoice details (常用发票信息) of individuals. Invoices themselves stay: accounting."""

from django.utils.translation import gettext_lazy as _

from ciie_portal.retention import Shredder, register_shredder

from .models import InvoiceProfile, TitleKind


def _profiles(edition):
    return InvoiceProfile.objects.filter(unit__edition=edition, title_kind=TitleKind.INDIVIDUAL)


def _export(edition, archive):
    archive.write_json(
        "invoicing/individual_profiles.json",
        list(_profiles(edition).order_by("pk").values("pk", "unit", "title", "phone", "address")),
    )


def _shred(edition, limit: int) -> int:
    ids = list(_profiles(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    InvoiceProfile.objects.filter(pk__in=ids).delete()
    return len(ids)


def register() -> None:
    register_shredder(
        Shredder(
            name="invoicing.individual_profiles",
            label=_("Saved invoice details of individuals"),
            preview=lambda edition: _profiles(edition).count(),
            export=_export,
            shred=_shred,
        )
    )
