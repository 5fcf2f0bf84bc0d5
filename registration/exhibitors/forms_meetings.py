"""The unit's form to ask an exhibitor for a meeting: an expo day, a free slot of that day (the
ones taken, by the exhibitor or the unit, or past, shown disabled with the reason), a
message."""

from datetime import timedelta

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from .meetings import SLOT_TAKEN, slot_start
from .models import MEETING_MINUTES, MEETING_SLOTS


class SlotRadios(forms.RadioSelect):
    """Radios whose options in ``unavailable`` are disabled (the reason is in their label)."""

    def __init__(self, *args, unavailable=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.unavailable = set(unavailable)

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(value) in self.unavailable:
            option["attrs"]["disabled"] = True
            option["selected"] = False
            option["attrs"].pop("checked", None)
        return option


def day_label(day) -> str:
    return f"{day.isoformat()} {WEEKDAYS[day.weekday()]}"


def slot_label(day, slot: str) -> str:
    end = slot_start(day, slot) + timedelta(minutes=MEETING_MINUTES)
    return f"{slot}–{end:%H:%M}"


class MeetingRequestForm(forms.Form):
    day = forms.ChoiceField(
        label=_("Day"),
        help_text=_("One of the expo days. Times are Beijing time; a meeting lasts 30 minutes."),
    )
    slot = forms.ChoiceField(label=_("Time"), required=True)
    message = forms.CharField(
        label=_("Message to the exhibitor"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional: what you would like to talk about (up to 300 characters)."),
    )

    def __init__(self, *args, days, day, taken: dict, past=(), **kwargs):
        """``days``: the expo days still open; ``day``: the one whose slots are offered;
        ``taken``: ``{slot: why}`` of that day; ``past``: its slots begun already."""
        super().__init__(*args, **kwargs)
        self.taken, self.past = dict(taken), set(past)
        self.fields["day"].choices = [(d.isoformat(), day_label(d)) for d in days]
        unavailable = set(self.taken) | self.past
        choices = []
        for slot in MEETING_SLOTS:
            label = slot_label(day, slot) if day else slot
            if slot in self.taken:
                label = _("%(time)s (taken)") % {"time": label}
            elif slot in self.past:
                label = _("%(time)s (passed)") % {"time": label}
            choices.append((slot, label))
        field = self.fields["slot"]
        field.choices = choices
        field.widget = SlotRadios(unavailable=unavailable)
        field.widget.choices = choices
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("day", InlineRadios("slot"), "message")

    def clean_slot(self):
        slot = self.cleaned_data["slot"]
        if slot in self.taken:
            raise forms.ValidationError(self.taken[slot] or SLOT_TAKEN)
        if slot in self.past:
            raise forms.ValidationError(_("This time has passed: choose a later one."))
        return slot
