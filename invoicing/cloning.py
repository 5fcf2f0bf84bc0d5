"""This app's part of cloning an edition (``ciie_portal.cloning``): the invoice types the
edition offers (InvoiceOptions). Invoices and their number counters are records of the edition
and are never copied; numbering starts anew."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .models import InvoiceKind, InvoiceOptions


def _copy_options(ctx: CloneContext) -> list[str]:
    options = InvoiceOptions.objects.filter(edition=ctx.source).first()
    if options is None:  # every type offered: so it stays without a row
        return []
    InvoiceOptions.objects.create(
        edition=ctx.target,
        electronic_special=options.electronic_special,
        paper_special=options.paper_special,
    )
    offered = ", ".join(str(InvoiceKind(kind).label) for kind in options.kinds())
    return [gettext("Invoice types offered: %(kinds)s") % {"kinds": offered}]


def register() -> None:
    register_cloner(
        Cloner(
            name="invoicing.options",
            label=_("Invoice types offered"),
            models=("invoicing.InvoiceOptions",),
            copy=_copy_options,
        )
    )
