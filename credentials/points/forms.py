"""The organiser's forms in the admin: an adjustment of a unit's points, and a load of codes."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.utils.translation import gettext_lazy as _

from registration.models import Unit, Visitor

from .models import PointsEntry

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class AdjustmentForm(forms.Form):
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.all(),
        label=_("unit"),
        widget=AutocompleteSelect(PointsEntry._meta.get_field("unit"), admin.site),
    )
    visitor = forms.ModelChoiceField(
        queryset=Visitor.objects.all(),
        label=_("visitor"),
        required=False,
        help_text=_("Optional: the visitor the points are for (they count for the unit too)."),
        widget=AutocompleteSelect(PointsEntry._meta.get_field("visitor"), admin.site),
    )
    points = forms.IntegerField(
        label=_("points"),
        help_text=_("Positive to add points, negative to take them away."),
        min_value=-1_000_000,
        max_value=1_000_000,
    )
    reason = forms.CharField(
        label=_("reason"),
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to the unit in its points history, and kept in the audit log."),
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("An adjustment adds or takes away at least one point."))
        return points

    def clean(self):
        cleaned = super().clean()
        unit, visitor = cleaned.get("unit"), cleaned.get("visitor")
        if unit and visitor and visitor.unit_id != unit.pk:
            self.add_error("visitor", _("The visitor is not one of this unit's."))
        return cleaned


class CodesLoadForm(forms.Form):
    codes = forms.CharField(
        label=_("codes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("One code per line, exactly as the unit will type it."),
    )
    file = forms.FileField(
        label=_("or a text file of codes"),
        required=False,
        help_text=_("A .txt or .csv file in UTF-8, one code per line."),
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        text = cleaned.get("codes") or ""
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                self.add_error("file", _("The file is larger than 5 MB."))
                return cleaned
            try:
                text += "\n" + upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", _("The file is not UTF-8 text."))
                return cleaned
        if not text.strip():
            raise forms.ValidationError(_("Paste the codes or choose a file."))
        cleaned["text"] = text
        return cleaned
