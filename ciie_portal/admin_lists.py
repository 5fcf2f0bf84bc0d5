"""Cells of long admin lists, made without the per-row work Django's admin does for them.

A changelist page renders 100 rows. Two of Django's cells cost far more than their HTML:

* the action checkbox of every row is a ``CheckboxInput`` rendered through the form renderer's
  templates (a template render per row, a third of the visitor list's rows' time);
* a boolean column's icon looks up its static file's hashed name in the manifest for every row.

``ListCellsMixin.action_checkbox`` writes the same ``<input>`` the widget renders, and
``boolean_icon`` gives the admin's own icon of a value, made once per value and static URL.
Tests compare both with what Django renders (``tests/ciie_portal/test_admin_lists.py``).
"""

from django.conf import settings
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_value
from django.utils.html import format_html
from django.utils.translation import gettext

_ICONS: dict = {}

# Django's own label of a row's checkbox, translated by its admin catalogue (not the portal's).
_SELECT_ROW = "Select this object for an action - {}"


def boolean_icon(value):
    """The admin's icon of ``value`` in a boolean column (``<img src=… alt="True">``)."""
    key = (value, settings.STATIC_URL)
    icon = _ICONS.get(key)
    if icon is None:
        icon = _ICONS[key] = display_for_value(value, "", boolean=True)
    return icon


class ListCellsMixin:
    """For a ``ModelAdmin`` with actions and long lists."""

    def action_checkbox(self, obj):
        """The row's checkbox, as Django's ``ModelAdmin.action_checkbox`` renders it."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(gettext(_SELECT_ROW), str(obj)),
        )
