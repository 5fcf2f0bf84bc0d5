"""The unit's sign-up form: its visitors as checkboxes, those who cannot go greyed out with
the reason."""

from django import forms
from django.utils.translation import gettext_lazy as _


class VisitorCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes whose options in ``refused`` are disabled (the reason is in their label)."""

    def __init__(self, *args, refused=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.refused = {str(value) for value in refused}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(value) in self.refused:
            option["attrs"]["disabled"] = True
        return option


class SignupForm(forms.Form):
    visitors = forms.MultipleChoiceField(
        label=_("Visitors to sign up"),
        help_text=_(
            "While places are left each visitor takes one, in the order listed; the others go "
            "on the waiting list and move up when a place is given back."
        ),
    )

    def __init__(self, *args, choices, **kwargs):
        """``choices``: ``[(visitor, why they cannot go or "")]``."""
        super().__init__(*args, **kwargs)
        field = self.fields["visitors"]
        field.choices = [
            (str(visitor.pk), _option_label(visitor, refusal)) for visitor, refusal in choices
        ]
        field.widget = VisitorCheckboxes(
            refused=[visitor.pk for visitor, refusal in choices if refusal]
        )
        field.widget.choices = field.choices

    def visitor_ids(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data["visitors"]]


def _option_label(visitor, refusal: str) -> str:
    shown = f"{visitor.name} · {visitor.get_status_display()}"
    if visitor.label:
        shown += f" · {visitor.get_label_display()}"
    return f"{shown} — {refusal}" if refusal else shown
