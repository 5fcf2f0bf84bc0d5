"""This app's part of shredding an edition's personal data (``ciie_portal.retention``): the
remittance vouchers (images of bank slips) and the remitters' telephone numbers. Payments,
refunds and the remittances' amounts, dates and accounts stay: they are accounting records."""

from django.utils.translation import gettext_lazy as _

from ciie_portal.retention import Shredder, delete_files, register_shredder

from .models import TransferRemittance


def _remittances(edition):
    return TransferRemittance.objects.filter(payment__order__edition=edition).exclude(
        voucher="", phone=""
    )


def _export(edition, archive):
    rows = list(
        TransferRemittance.objects.filter(payment__order__edition=edition)
        .order_by("pk")
        .values("pk", "payment", "payer_name", "phone", "voucher")
    )
    archive.write_json("payments/remittances.json", rows)
    for row in rows:
        archive.write_file(f"payments/vouchers/{row['pk']}", row["voucher"])


def _shred(edition, limit: int) -> int:
    batch = list(_remittances(edition).order_by("pk").values_list("pk", "voucher")[:limit])
    delete_files(voucher for _pk, voucher in batch)
    TransferRemittance.objects.filter(pk__in=[pk for pk, _voucher in batch]).update(
        voucher="", phone=""
    )
    return len(batch)


def register() -> None:
    register_shredder(
        Shredder(
            name="payments.vouchers",
            label=_("Remittance vouchers and remitters' telephones"),
            preview=lambda edition: _remittances(edition).count(),
            export=_export,
            shred=_shred,
        )
    )
