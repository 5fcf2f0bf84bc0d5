"""The directory's forms: the organiser's import (admin) and the visitors' filters."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from ciie_portal.admin_uploads import XLSX, SpreadsheetUploadForm
from ciie_portal.models import Edition

from ..reference import EXHIBITION_AREAS, SPECIAL_ZONES, area_label


class DirectoryImportForm(SpreadsheetUploadForm):
    """An .xlsx or .csv of exhibitors and products, for an edition (the current by default)."""

    max_bytes = 40 * 1024 * 1024
    extension_message = _("Upload an Excel workbook (.xlsx) or a CSV file (.csv, UTF-8).")
    size_message = _("The file is larger than 40 MB: split it into several files.")

    file = forms.FileField(
        label=_("Spreadsheet (.xlsx or .csv)"),
        help_text=_(
            "One row per product, with its exhibitor's columns. Titles in Chinese or English, "
            "as in the template."
        ),
        widget=forms.FileInput(attrs={"accept": ".xlsx,.csv,text/csv," + XLSX}),
    )
    edition = forms.ModelChoiceField(
        label=_("Edition"), queryset=Edition.objects.order_by("-number"), empty_label=None
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = Edition.objects.filter(is_current=True).values_list("pk", flat=True).first()
        if current is not None:
            self.fields["edition"].initial = current

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".xlsx", ".csv")):
            raise ValidationError(self.extension_message, code="extension")
        if upload.size > self.max_bytes:
            raise ValidationError(self.size_message, code="size")
        return upload


def _area_choices():
    return [("", _("All areas"))] + [(slug, area_label(slug)) for slug, *_n in EXHIBITION_AREAS]


def _zone_choices():
    return [("", _("All zones"))] + [(slug, area_label(slug)) for slug, *_n in SPECIAL_ZONES]


class DirectoryFilterForm(forms.Form):
    """The visitors' search: a keyword and three filters, all optional (GET)."""

    q = forms.CharField(
        label=_("Keyword"),
        required=False,
        max_length=60,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name, product, pinyin…")}
        ),
    )
    area = forms.ChoiceField(label=_("Exhibition area"), required=False, choices=_area_choices)
    zone = forms.ChoiceField(label=_("Special zone"), required=False, choices=_zone_choices)
    country = forms.ChoiceField(label=_("Country or region"), required=False, choices=())

    def __init__(self, *args, country_codes=(), **kwargs):
        super().__init__(*args, **kwargs)
        named = sorted(((code, countries.name(code)) for code in country_codes), key=_by_name)
        self.fields["country"].choices = [("", _("All countries and regions")), *named]

    def filters(self) -> dict:
        """The valid filters (an invalid one is dropped, the others still apply)."""
        if self.is_bound:
            self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "keyword": data.get("q", ""),
            "area": data.get("area", ""),
            "zone": data.get("zone", ""),
            "country": data.get("country", ""),
        }


def _by_name(choice):
    return choice[1]
