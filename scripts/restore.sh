#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into DATABASE_URL and the private media folder:
#
#   BACKUP=var/backups/20271101T020000Z scripts/restore.sh      (or: make restore BACKUP=...)
#
# The database becomes exactly the backup's (tables made since, e.g. by a newer migration, are
# dropped); the media files of the backup are put back (files uploaded since stay, unused).
# The backup's key fingerprints are compared with this server's keys — restored data is
# readable only with the keys it was made with — and `manage.py migrate` brings the schema up
# to the code. Stop the web, worker and beat processes first: nothing may write meanwhile.
# On a terminal it asks for the database's name before overwriting it (CONFIRM=yes skips that).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

[[ -n "${BACKUP:-}" ]] \
    || die "say which backup: BACKUP=path/to/folder (backups are in ${BACKUP_DIR:-$VAR_DIR/backups})"
BACKUP="${BACKUP%/}"
for part in manifest.json database.dump private-media.tar.gz; do
    [[ -f "$BACKUP/$part" ]] || die "$BACKUP/$part is missing: not a complete backup."
done
dump_tables="$(pg_restore --list "$BACKUP/database.dump" \
    | awk '$4 == "TABLE" && $5 == "public" {print $6}' | sort)"
grep -qx django_migrations <<<"$dump_tables" \
    || die "$BACKUP/database.dump holds no django_migrations table: not a backup of the portal."
use_database_url

echo "Restoring $BACKUP into $(database_label) and $MEDIA_DIR"

# Compared before anything is overwritten, so that the warning comes while there is still time
# to stop; and again at the end, where it is the last thing read.
keys_ok=true
keys_report="$(manage keys_fingerprint --compare "$BACKUP/manifest.json" 2>&1)" || {
    status=$?
    [[ $status -eq 3 ]] || die "cannot compare the keys: $keys_report"
    keys_ok=false
}
warn_keys() {
    cat >&2 <<TXT

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
WARNING: THIS SERVER'S KEYS ARE NOT THE KEYS OF THIS BACKUP.
${keys_report#CommandError: }
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

TXT
}
$keys_ok || warn_keys

if [[ -t 0 && "${CONFIRM:-}" != "yes" ]]; then
    read -r -p "Everything in database ${PGDATABASE} will be replaced. Type its name to go on: " answer
    [[ "$answer" == "$PGDATABASE" ]] || die "not restored."
fi

# Tables the backup does not have (made after it, by a newer migration) would survive
# pg_restore --clean, keep their foreign keys to the tables it drops, and make the migrate
# below fail on "already exists": drop them first.
database_tables="$(psql --no-psqlrc --tuples-only --no-align \
    --command="SELECT tablename FROM pg_tables WHERE schemaname = 'public'" | sort)"
extra_tables="$(comm -23 <(echo "$database_tables") <(echo "$dump_tables"))"
if [[ -n "$extra_tables" ]]; then
    echo "Dropping tables the backup does not have: $(echo "$extra_tables" | paste -sd' ' -)"
    psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --command="DROP TABLE IF EXISTS \
$(echo "$extra_tables" | sed 's/.*/"&"/' | paste -sd, -) CASCADE"
fi

pg_restore --clean --if-exists --no-owner --single-transaction --dbname="$PGDATABASE" \
    "$BACKUP/database.dump"

mkdir -p "$MEDIA_DIR"
tar --extract --gzip --file="$BACKUP/private-media.tar.gz" --directory="$MEDIA_DIR"

manage migrate --noinput

echo "Restored $BACKUP."
if $keys_ok; then
    echo "$keys_report"
else
    warn_keys
fi
