"""The operational figures (``ciie_portal.ops.figures``) for a terminal: the same values as
``/metrics`` and the operations page, as a table or JSON.

    manage.py ops_report                        # the whole portal, current edition, in Chinese
    manage.py ops_report --delegation shanghai  # one delegation's part (scoped figures only)
    manage.py ops_report --edition 8 --language en --json
"""

import json
import unicodedata

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext

from ciie_portal.models import Edition
from ciie_portal.ops.figures import Scope, admin_url_of, figures, resolve, snapshot


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _number(value: float, unit: str) -> str:
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
    suffix = {"seconds": " s", "per_minute": "/min", "per_second": "/s"}.get(unit, "")
    return shown + suffix


class Command(BaseCommand):
    help = "Print the portal's operational figures (notices, payments, queues, production...)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--delegation", metavar="CODE", help="Only this delegation's part (its code)."
        )
        parser.add_argument(
            "--edition", type=int, metavar="NUMBER", help="Edition number (default: current)."
        )
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="Language of the figures' names (default: %(default)s).",
        )
        parser.add_argument("--json", action="store_true", help="JSON instead of a table.")

    def handle(self, *args, delegation=None, edition=None, language=None, **options):
        scope = resolve(Scope(self._edition_id(edition), self._delegation_id(delegation)))
        values = snapshot(scope)
        with translation.override(language):
            rows = [
                {
                    "name": figure.name,
                    "label": str(figure.label),
                    "unit": figure.unit,
                    "admin_url": admin_url_of(figure, scope),
                    "samples": [
                        {"labels": sample.labels, "value": sample.value}
                        for sample in values[figure.name]
                    ],
                }
                for figure in figures()
                if figure.name in values
            ]
        if options["json"]:
            report = {
                "edition_id": scope.edition_id,
                "delegation_id": scope.delegation_id,
                "figures": rows,
            }
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self._table(rows, language)

    def _table(self, rows, language):
        lines = []
        for row in rows:
            samples = row["samples"] or [{"labels": {}, "value": None}]
            for index, sample in enumerate(samples):
                labels = ", ".join(f"{key}={value}" for key, value in sample["labels"].items())
                value = "-" if sample["value"] is None else _number(sample["value"], row["unit"])
                lines.append((row["label"] if index == 0 else "", labels, value))
        with translation.override(language):
            header = (gettext("Figure"), gettext("Labels"), gettext("Value"))
        widths = [max(_width(line[column]) for line in [header, *lines]) for column in range(3)]
        for line in [header, tuple("-" * width for width in widths), *lines]:
            self.stdout.write(
                "  ".join(
                    [
                        _pad(line[0], widths[0]),
                        _pad(line[1], widths[1]),
                        " " * (widths[2] - _width(line[2])) + line[2],
                    ]
                ).rstrip()
            )

    def _edition_id(self, number):
        if number is None:
            return None
        edition = Edition.objects.filter(number=number).first()
        if edition is None:
            raise CommandError(f"No edition number {number}.")
        return edition.pk

    def _delegation_id(self, code):
        if not code:
            return None
        # Looked up by name: the delegations app sits above this one.
        delegation = apps.get_model("delegations", "Delegation").objects.filter(code=code).first()
        if delegation is None:
            raise CommandError(f"No delegation with the code {code!r}.")
        return delegation.pk
