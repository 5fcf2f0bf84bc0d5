#!/usr/bin/env bash
# Back up the portal: the PostgreSQL database (pg_dump, custom format) and the private media
# (uploaded photos, licences, vouchers, generated cards) into one timestamped folder:
#
#   $BACKUP_DIR/<UTC time>/database.dump    pg_restore reads it (scripts/restore.sh)
#                         /private-media.tar.gz
#                         /manifest.json    when, which database, migrations, key fingerprints
#
# BACKUP_DIR defaults to var/backups. The keys are not in it, on purpose (see the reminder at
# the end): the folder alone does not give away anyone's ID number.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

use_database_url
BACKUP_DIR="${BACKUP_DIR:-$VAR_DIR/backups}"

# Personal data: readable by this user only, from the first byte.
umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$BACKUP_DIR/$stamp"
suffix=1
while [[ -e "$final" ]]; do
    suffix=$((suffix + 1))
    final="$BACKUP_DIR/$stamp-$suffix"
done
# Written under another name and renamed when complete: a folder without ".partial" is a whole
# backup, and an interrupted one is never taken for one.
work="$final.partial"
mkdir "$work"
trap 'rm -rf "$work"' EXIT

echo "Backing up $(database_label) and $MEDIA_DIR into $final"

# The key fingerprints first: if this server cannot even start (bad keys), nothing is dumped.
manage keys_fingerprint --json >"$work/keys.json"

# The database before the files: a file is saved before the row naming it commits, so every
# file a dumped row names is already there when the folder is archived.
pg_dump --format=custom --file="$work/database.dump"
psql --no-psqlrc --quiet --tuples-only --no-align --field-separator=' ' \
    --command="SELECT DISTINCT ON (app) app, name FROM django_migrations ORDER BY app, id DESC" \
    >"$work/migrations.txt"
server_version="$(psql --no-psqlrc --tuples-only --no-align --command='SHOW server_version')"

if [[ -d "$MEDIA_DIR" ]]; then
    # Exit status 1 is GNU tar's "a file changed while being read" (an upload meanwhile): the
    # archive is still whole, and that upload's row is not in the dump anyway.
    tar --create --gzip --file="$work/private-media.tar.gz" --directory="$MEDIA_DIR" \
        --warning=no-file-changed . || [[ $? -eq 1 ]]
    media_files="$(find "$MEDIA_DIR" -type f | wc -l)"
else
    echo "No private media folder at $MEDIA_DIR: the archive is empty." >&2
    tar --create --gzip --file="$work/private-media.tar.gz" --files-from=/dev/null
    media_files=0
fi

CREATED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)" DATABASE="$(database_label)" \
    SERVER_VERSION="$server_version" MEDIA_DIR="$MEDIA_DIR" MEDIA_FILES="$media_files" \
    WORK="$work" "$PYTHON" - <<'PY'
import json
import os
from pathlib import Path

work = Path(os.environ["WORK"])
migrations = dict(
    line.split(" ", 1) for line in (work / "migrations.txt").read_text().splitlines() if line
)
manifest = {
    "created_at": os.environ["CREATED_AT"],
    "database": os.environ["DATABASE"],
    "postgresql": os.environ["SERVER_VERSION"],
    "database_dump": "database.dump",
    "private_media": {
        "archive": "private-media.tar.gz",
        "from": os.environ["MEDIA_DIR"],
        "files": int(os.environ["MEDIA_FILES"]),
    },
    # The last migration applied, per app: what the code restoring it must at least know.
    "migrations": migrations,
    # Fingerprints only (manage.py keys_fingerprint): the keys are kept apart from backups.
    "keys": json.loads((work / "keys.json").read_text()),
}
(work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
PY
rm "$work/keys.json" "$work/migrations.txt"

mv "$work" "$final"
trap - EXIT
echo "Backup complete: $final"
echo "Restore it with: make restore BACKUP=$final"
remind_keys
