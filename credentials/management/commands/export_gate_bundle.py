import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ciie_portal.models import Edition
from credentials.production.models import Credential
from credentials.production.signing import PREFIX, public_key_hex, public_key_pem


class Command(BaseCommand):
    help = (
        "Write what an offline gate device needs to check credentials — the public key and the "
        "edition's revocation list — to a JSON file (run it again to refresh the list)."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", help="the JSON file to write ('-' for standard output)")
        parser.add_argument(
            "--edition", type=int, help="edition number (default: the current edition)"
        )

    def handle(self, *args, output, edition=None, **options):
        try:
            edition = (
                Edition.objects.get(number=edition)
                if edition is not None
                else Edition.objects.current()
            )
        except Exception as error:  # Edition.DoesNotExist, NoCurrentEdition
            raise CommandError(str(error)) from error
        revoked = sorted(
            Credential.objects.filter(
                edition=edition, status=Credential.Status.REVOKED
            ).values_list("number", flat=True)
        )
        bundle = {
            "format": "ciie-gate-bundle/1",
            "payload_version": PREFIX,
            "edition": edition.number,
            "edition_name": edition.name,
            "generated_at": timezone.now().isoformat(timespec="seconds"),
            "timezone": "Asia/Shanghai",
            "public_key": public_key_hex(),
            "public_key_pem": public_key_pem(),
            "revoked": revoked,
        }
        text = json.dumps(bundle, ensure_ascii=False, indent=2) + "\n"
        if output == "-":
            self.stdout.write(text, ending="")
            return
        Path(output).write_text(text, encoding="utf-8")
        self.stderr.write(
            f"{output}: edition {edition.number}, {len(revoked)} revoked credential(s)"
        )
