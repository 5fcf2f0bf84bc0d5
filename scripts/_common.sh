# Shared by scripts/backup.sh and scripts/restore.sh (sourced, not run).
#
# Both read the same environment as the portal itself (README, "Configuration"): DATABASE_URL,
# CIIE_VAR_DIR, PRIVATE_MEDIA_ROOT and the keys. PYTHON is the interpreter with the portal's
# dependencies (default: .venv/bin/python, else python3).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

VAR_DIR="${CIIE_VAR_DIR:-$ROOT/var}"
MEDIA_DIR="${PRIVATE_MEDIA_ROOT:-$VAR_DIR/private}"

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

manage() {
    "$PYTHON" "$ROOT/manage.py" "$@"
}

# DATABASE_URL as libpq's PG* variables, so that the password never shows in a process list.
# It is parsed by django-environ, as settings.py parses it: the same URL means the same database.
use_database_url() {
    if [[ -z "${DATABASE_URL:-}" ]]; then
        die "DATABASE_URL is not set. Without it the portal runs embedded, on SQLite in ${VAR_DIR}:
this backs up PostgreSQL only. For an embedded trial, stop the server and copy ${VAR_DIR}
(the SQLite file, private/ and secrets.json) instead."
    fi
    local exports
    exports="$("$PYTHON" - <<'PY'
import os
import shlex

import environ

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
if config["ENGINE"] != "django.db.backends.postgresql":
    raise SystemExit(f"DATABASE_URL is not a PostgreSQL database ({config['ENGINE']}).")
values = {
    "PGDATABASE": config.get("NAME"),
    "PGUSER": config.get("USER"),
    "PGPASSWORD": config.get("PASSWORD"),
    "PGHOST": config.get("HOST"),
    "PGPORT": config.get("PORT"),
    "PGSSLMODE": (config.get("OPTIONS") or {}).get("sslmode"),
}
for name, value in values.items():
    if value not in (None, ""):
        print(f"export {name}={shlex.quote(str(value))}")
PY
)" || die "cannot use DATABASE_URL (see above)."
    eval "$exports"
    [[ -n "${PGDATABASE:-}" ]] || die "DATABASE_URL names no database."
}

# The database as the manifest and the messages name it: never with its password.
database_label() {
    echo "${PGDATABASE} on ${PGHOST:-localhost}:${PGPORT:-5432}"
}

remind_keys() {
    cat >&2 <<'TXT'
Reminder: the keys are NOT in the backup, on purpose: SECRET_KEY, ID_ENCRYPTION_KEY, ID_INDEX_KEY
and CREDENTIAL_SIGNING_KEY. Keep them apart from it (e.g. in the secret store): without
ID_ENCRYPTION_KEY and ID_INDEX_KEY the visitors' ID numbers in this backup cannot be read.
TXT
}
