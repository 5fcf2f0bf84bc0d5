"""This app's part of shredding an edition's personal data (``ciie_portal.retention``): the
files that bear names and photos — credential cards, print sheets and their manifests — and the
recipients' mobiles and addresses copied onto courier parcels and pick-up lists. Credential
rows, numbers and states stay (the overview counts them); their files are gone."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ciie_portal.retention import Shredder, delete_files, register_shredder

from .issuance.models import Parcel, PickupList
from .production.models import Credential, PrintBatch


def _card_files(edition):
    return Credential.objects.filter(edition=edition).exclude(card_pdf="")


def _batch_files(edition):
    return PrintBatch.objects.filter(edition=edition).filter(~Q(sheet_pdf="") | ~Q(manifest=""))


def _files_preview(edition) -> int:
    return _card_files(edition).count() + _batch_files(edition).count()


def _files_export(edition, archive):
    # The sheets and cards are made again from the visitors' data exported beside them; only
    # the manifests (what was printed, in which batch) are kept in the export.
    for batch in _batch_files(edition).order_by("pk"):
        archive.write_file(f"credentials/manifests/{batch.number}.csv", batch.manifest.name)


def _files_shred(edition, limit: int) -> int:
    """Delete the files and clear their names. Credentials and print batches are records whose
    rows never change (their models refuse it); clearing a shredded file's name is the one
    rewrite retention makes, past the model's guard."""
    done = 0
    for queryset, fields in (
        (_card_files(edition), ["card_pdf"]),
        (_batch_files(edition), ["sheet_pdf", "manifest"]),
    ):
        batch = list(queryset.order_by("pk").values_list("pk", *fields)[: limit - done])
        for _pk, *names in batch:
            delete_files(names)
        models.QuerySet.update(
            queryset.model.objects.filter(pk__in=[row[0] for row in batch]),
            **dict.fromkeys(fields, ""),
        )
        done += len(batch)
        if done >= limit:
            break
    return done


def _recipients(edition):
    return Parcel.objects.filter(edition=edition).exclude(mobile="")


def _pickups(edition):
    return PickupList.objects.filter(edition=edition).exclude(received_by_phone="")


def _recipients_export(edition, archive):
    archive.write_json(
        "credentials/parcels.json",
        list(
            Parcel.objects.filter(edition=edition)
            .order_by("pk")
            .values("pk", "number", "recipient", "mobile", "address_text")
        ),
    )


def _recipients_shred(edition, limit: int) -> int:
    ids = list(_recipients(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    Parcel.objects.filter(pk__in=ids).update(mobile="", address_text="—")
    pickups = list(_pickups(edition).order_by("pk").values_list("pk", flat=True)[:limit])
    PickupList.objects.filter(pk__in=pickups).update(received_by_phone="")
    return len(ids) + len(pickups)


def register() -> None:
    register_shredder(
        Shredder(
            name="credentials.files",
            label=_("Credential cards, print sheets and manifests (files)"),
            preview=_files_preview,
            export=_files_export,
            shred=_files_shred,
        )
    )
    register_shredder(
        Shredder(
            name="credentials.recipients",
            label=_("Parcel recipients' mobiles and addresses, pick-up phones"),
            preview=lambda e: _recipients(e).count() + _pickups(e).count(),
            export=_recipients_export,
            shred=_recipients_shred,
        )
    )
