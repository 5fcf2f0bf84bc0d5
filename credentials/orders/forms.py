from django import forms
from django.utils.translation import gettext_lazy as _


class OrderCreateForm(forms.Form):
    """提交办证(付费): which of the unit's visitors awaiting payment go into the order.

    ``rows`` come from ``selectors.payable_visitors``. The service checks everything again with
    the visitors locked; this only gives the contact the message next to the list.
    """

    visitors = forms.TypedMultipleChoiceField(
        label=_("Visitors"),
        coerce=int,
        error_messages={
            "required": _("Select the visitors to submit for a credential."),
            "invalid_choice": _(
                "A selected visitor is no longer awaiting payment; reload the page."
            ),
        },
    )

    def __init__(self, *args, rows, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = {row["visitor"].pk: row for row in rows}
        self.fields["visitors"].choices = [
            (pk, row["visitor"].name) for pk, row in self.rows.items()
        ]

    def clean_visitors(self):
        chosen = self.cleaned_data["visitors"]
        rows = [self.rows[pk] for pk in chosen]
        taken = [row for row in rows if row["open_order"]]
        if taken:
            raise forms.ValidationError(
                _("Already in an open order: %(names)s.")
                % {
                    "names": ", ".join(
                        f"{row['visitor'].name} ({row['open_order']})" for row in taken
                    )
                }
            )
        no_days = [row["visitor"].name for row in rows if row["fee"] is None]
        if no_days:
            raise forms.ValidationError(
                _("These visitors have no entry days yet: %(names)s.")
                % {"names": ", ".join(no_days)}
            )
        if sum(row["fee"] for row in rows) <= 0:
            raise forms.ValidationError(
                _("The selected visitors have no fee to pay, so they need no order: %(names)s.")
                % {"names": ", ".join(row["visitor"].name for row in rows)}
            )
        return chosen
