"""Fingerprints of the keys a database belongs to, so that a backup can name its keys.

A backup holds the encrypted ID numbers but, on purpose, not the keys that open them. Its
manifest records these fingerprints instead, and a restore compares them with the server's: a
database restored under other keys is then found at the restore, not by visitors meeting the
"personal data cannot be read" page. A fingerprint is the first 12 hex characters of the
SHA-256 of the key: enough to tell keys apart, useless for recovering one.

    manage.py keys_fingerprint                      # one line per key
    manage.py keys_fingerprint --json               # what scripts/backup.sh writes to the manifest
    manage.py keys_fingerprint --compare manifest.json   # exit 3 when the keys differ
"""

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

#: Exit status of ``--compare`` when the keys differ (1 stays for any other failure).
MISMATCH = 3

WHAT_BREAKS = {
    "ID_ENCRYPTION_KEY": "visitors' ID numbers cannot be decrypted: pages that show them answer "
    '"personal data cannot be read" (503)',
    "ID_INDEX_KEY": "ID numbers are no longer found by number: duplicates within an edition go "
    "unnoticed and the security review's results do not match their visitors",
    "CREDENTIAL_SIGNING_KEY": "credentials already printed fail the gate check (bad signature)",
}


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def fingerprints() -> dict:
    """The current keys' fingerprints. ``ID_ENCRYPTION_KEY`` may list several (rotation): one
    fingerprint each, newest first."""
    return {
        "ID_ENCRYPTION_KEY": [fingerprint(key.strip()) for key in settings.ID_ENCRYPTION_KEYS],
        "ID_INDEX_KEY": fingerprint(settings.ID_INDEX_KEY),
        # Hex: the same key in capitals is the same key.
        "CREDENTIAL_SIGNING_KEY": fingerprint(settings.CREDENTIAL_SIGNING_KEY.lower()),
    }


def differences(recorded: dict, current: dict) -> list[str]:
    """The names of the keys in ``current`` that cannot open what ``recorded`` keys made.

    Any encryption key of the backup missing here is a difference (rows may still be sealed
    with an older one); a new key in front of the old ones is not (that is a rotation).
    """
    different = []
    old = recorded.get("ID_ENCRYPTION_KEY") or []
    if not set(old) <= set(current["ID_ENCRYPTION_KEY"]):
        different.append("ID_ENCRYPTION_KEY")
    for name in ("ID_INDEX_KEY", "CREDENTIAL_SIGNING_KEY"):
        if recorded.get(name) != current[name]:
            different.append(name)
    return different


class Command(BaseCommand):
    help = (
        "Print fingerprints of ID_ENCRYPTION_KEY, ID_INDEX_KEY and CREDENTIAL_SIGNING_KEY "
        "(never the keys), or compare them with a backup's manifest."
    )
    # Settings only: it must answer even while the database is being restored.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print them as JSON")
        parser.add_argument(
            "--compare",
            metavar="MANIFEST",
            help=f"compare with the 'keys' of a backup's manifest.json; exit {MISMATCH} if "
            "they differ",
        )

    def handle(self, *args, **options):
        current = fingerprints()
        if options["compare"]:
            self._compare(Path(options["compare"]), current)
        elif options["json"]:
            self.stdout.write(json.dumps(current, indent=2))
        else:
            for name, value in current.items():
                self.stdout.write(f"{name} {','.join(value) if isinstance(value, list) else value}")

    def _compare(self, path: Path, current: dict) -> None:
        try:
            recorded = json.loads(path.read_text())["keys"]
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"{path}: no key fingerprints to compare ({error})") from error
        different = differences(recorded, current)
        if not different:
            self.stdout.write("The keys of this server are the keys of the backup.")
            return
        lines = ["The keys of this server are NOT the keys of the backup:"]
        for name in different:
            lines.append(
                f"  {name}: backup {_shown(recorded.get(name))}, this server "
                f"{_shown(current[name])} — {WHAT_BREAKS[name]}."
            )
        lines.append(
            "Start the server with the keys that belong to this backup (from the secret store)."
        )
        raise CommandError("\n".join(lines), returncode=MISMATCH)


def _shown(value) -> str:
    if not value:
        return "(none recorded)"
    return ",".join(value) if isinstance(value, list) else value
