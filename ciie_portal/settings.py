"""Settings for ciie_portal.

The environment is read here and nowhere else. With nothing set the portal runs *embedded*:
a SQLite file under ``var/``, Celery tasks executed in-process, SMS and email written to the
console and to ``var/outbox/``. With ``DATABASE_URL`` and ``CELERY_BROKER_URL`` it runs on
PostgreSQL, Redis and real Celery workers. Every value is typed; a bad one fails at start-up.
"""

import hashlib
import json
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("CIIE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = env.str("DATABASE_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
EMBEDDED = not DATABASE_URL and not CELERY_BROKER_URL


def env_bool(name: str, default: bool) -> bool:
    """Like env.bool, but a typo such as DJANGO_DEBUG=flase is an error, not a silent False."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def _local_secrets() -> dict:
    """Keys for a machine that was given none: generated once, kept in var/secrets.json.

    Production sets every key in the environment (docker-compose refuses to start without
    them); this file only spares a fresh clone from inventing keys by hand.
    """
    path = VAR_DIR / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ID_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ID_INDEX_KEY": secrets.token_hex(32),
        "CREDENTIAL_SIGNING_KEY": secrets.token_hex(32),
    }
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


DEBUG = env_bool("DJANGO_DEBUG", default=EMBEDDED)

_secret_names = ("SECRET_KEY", "ID_ENCRYPTION_KEY", "ID_INDEX_KEY", "CREDENTIAL_SIGNING_KEY")
_missing = [name for name in _secret_names if not env.str(name, default="")]
ALLOW_LOCAL_KEYS = env_bool("CIIE_ALLOW_LOCAL_KEYS", default=False)
if _missing and not (EMBEDDED or DEBUG or ALLOW_LOCAL_KEYS):
    # A key generated inside a container would vanish with it, and with it every encrypted
    # ID number: a real deployment must be given its keys.
    raise ImproperlyConfigured(
        f"Set {', '.join(_missing)} in the environment (or CIIE_ALLOW_LOCAL_KEYS=true for a "
        "development machine, which keeps generated keys in var/secrets.json)."
    )
_fallback = _local_secrets() if _missing else {}

SECRET_KEY = env.str("SECRET_KEY", default="") or _fallback["SECRET_KEY"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty: no request could be served.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Visitor ID numbers: authenticated encryption (Fernet = AES-128-CBC + HMAC-SHA256).
# Several comma-separated keys allow rotation: the first encrypts, all decrypt.
ID_ENCRYPTION_KEYS = env.list("ID_ENCRYPTION_KEY", default=[]) or [_fallback["ID_ENCRYPTION_KEY"]]
for _key in ID_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "ID_ENCRYPTION_KEY must be url-safe base64 of 32 bytes "
            "(python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc
# Keyed hash (HMAC-SHA256) for uniqueness and exact lookup of ID numbers.
ID_INDEX_KEY = env.str("ID_INDEX_KEY", default="") or _fallback["ID_INDEX_KEY"]
if len(ID_INDEX_KEY) < 32:
    raise ImproperlyConfigured("ID_INDEX_KEY must be at least 32 characters.")
# Credential QR codes are signed with Ed25519. The key is the 32-byte private key as 64 hex
# characters (python -c 'import secrets; print(secrets.token_hex(32))'), named in each payload by
# its id (1–255). The gate verifies with its public half and with the earlier keys' public halves
# listed in CREDENTIAL_VERIFY_KEYS ("id:64 hex,id:64 hex"), so a new signing key (with a new id)
# leaves every card printed with an old one valid (docs/gate.md).
CREDENTIAL_SIGNING_KEY = (
    env.str("CREDENTIAL_SIGNING_KEY", default="") or _fallback["CREDENTIAL_SIGNING_KEY"]
).strip()
try:
    Ed25519PrivateKey.from_private_bytes(bytes.fromhex(CREDENTIAL_SIGNING_KEY))
except ValueError as exc:
    raise ImproperlyConfigured(
        "CREDENTIAL_SIGNING_KEY must be an Ed25519 private key: 64 hex characters "
        "(python -c 'import secrets; print(secrets.token_hex(32))')"
    ) from exc
CREDENTIAL_SIGNING_KEY_ID = env.int("CREDENTIAL_SIGNING_KEY_ID", default=1)
if not 1 <= CREDENTIAL_SIGNING_KEY_ID <= 255:
    raise ImproperlyConfigured("CREDENTIAL_SIGNING_KEY_ID must be a number from 1 to 255.")
CREDENTIAL_VERIFY_KEYS: dict[int, str] = {}
for _entry in env.list("CREDENTIAL_VERIFY_KEYS", default=[]):
    _id, _colon, _hex = _entry.partition(":")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(_hex.strip()))
        _key_id = int(_id)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_VERIFY_KEYS lists earlier public keys as id:64 hex characters, "
            f"comma-separated; {_entry!r} is not one."
        ) from exc
    if not 1 <= _key_id <= 255 or _key_id == CREDENTIAL_SIGNING_KEY_ID:
        raise ImproperlyConfigured(
            f"CREDENTIAL_VERIFY_KEYS: key id {_key_id} must be 1–255 and not the signing key's."
        )
    CREDENTIAL_VERIFY_KEYS[_key_id] = _hex.strip()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_countries",
    "axes",
    # Content-Security-Policy headers and nonces (django-csp).
    "csp",
    # Two-factor sign-in for staff: TOTP devices and one-time backup codes (django-otp).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ciie_portal",
    "registration",
    "delegations",
    "credentials",
    "payments",
    "invoicing",
]

MIDDLEWARE = [
    # First: the request id (X-Request-ID) and one log line per request (ciie_portal.request_log).
    "ciie_portal.request_log.RequestLogMiddleware",
    "ciie_portal.metrics.MetricsMiddleware",  # Prometheus: requests, latency, queries by view
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "ciie_portal.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    # Staff pages outside the admin (/staff/, /gate/, finance's and secretaries' pages) also
    # need the second factor passed in this session.
    "ciie_portal.two_factor.middleware.StaffSecondFactorMiddleware",
    # Unit contacts accept a newly published privacy policy version first (registration.consent).
    "registration.consent.ConsentMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Stored ID numbers this server's keys cannot decrypt: a 503 page for the organiser.
    "ciie_portal.middleware.KeysMismatchMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ciie_portal.urls"
WSGI_APPLICATION = "ciie_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Django's cached loader, per language, with the constant {% translate %} texts
            # translated once (ciie_portal/template_loaders.py).
            "loaders": [
                (
                    "ciie_portal.template_loaders.Loader",
                    [
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ],
                )
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ciie_portal.context_processors.edition",
            ],
            # {% url %} remembering what it reversed (ciie_portal/templatetags/urls_kept.py).
            "builtins": ["ciie_portal.templatetags.urls_kept"],
        },
    },
    {
        # SMS and email texts are plain text: nothing may be HTML-escaped in them.
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "autoescape": False,
            "loaders": [
                (
                    "ciie_portal.template_loaders.Loader",
                    ["django.template.loaders.filesystem.Loader"],
                )
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url_config(DATABASE_URL)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "ciie_portal.sqlite3")}
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, its health check looking at the socket instead of a SELECT 1 per
        # request (ciie_portal/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "ciie_portal.postgresql"
    # psycopg 3: parameters sent apart from the SQL, and a statement run twice on a connection
    # prepared on the server (parsed and planned once per connection). Not behind PgBouncer
    # in transaction pooling mode (prepared statements belong to one server connection there):
    # DB_PREPARED_STATEMENTS=false then.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 2}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# SQLite (``make run``) has no covering indexes: it makes the visitors' (edition, status, label)
# index without its INCLUDE columns, which only PostgreSQL's index-only counts need.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_USER_MODEL = "registration.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, with the user of each request read by a statement written once.
    "registration.auth.ModelBackend",
    # Checks no password: a unit contact's session names it once signed in, and it reads the
    # contact with their unit of the current edition in one statement.
    "registration.auth.UnitContactBackend",
]
# Brute force: 5 failed passwords for one account from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "registration.axes_handler.AxesHandler"  # its deletes in one statement each
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_CALLABLE = "registration.auth.login_name_from_request"
AXES_VERBOSE = False
# Ceilings per client address across every account and session (registration/limits.py, kept
# in the shared cache): failed sign-ins, licence recognitions; and per account for OCR.
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=20)
LOGIN_FAILURES_PER_ADDRESS_MINUTES = env.int("LOGIN_FAILURES_PER_ADDRESS_MINUTES", default=15)
OCR_CALLS_PER_ADDRESS_PER_HOUR = env.int("OCR_CALLS_PER_ADDRESS_PER_HOUR", default=30)
OCR_CALLS_PER_ACCOUNT_PER_DAY = env.int("OCR_CALLS_PER_ACCOUNT_PER_DAY", default=20)
# The one-click registration link (returning visitors) works once, for this many days.
ONE_CLICK_LINK_DAYS = env.int("ONE_CLICK_LINK_DAYS", default=14)
# Behind N reverse proxies the client's address is the N-th from the right in X-Forwarded-For;
# rate limits and lockouts count by it (0: REMOTE_ADDR, when nothing sits in front).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# One-time codes by SMS and email.
VERIFICATION_CODE_TTL = timedelta(minutes=5)
VERIFICATION_CODE_INTERVAL = timedelta(seconds=60)
VERIFICATION_CODES_PER_DAY = 10
VERIFICATION_CODE_ATTEMPTS = 5

LOGIN_URL = "registration:login"
LOGIN_REDIRECT_URL = "registration:home"
LOGOUT_REDIRECT_URL = "landing"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Countries with Chinese names; the three regions as a mainland expo names them.
COUNTRIES_OVERRIDE = {
    "TW": _("Taiwan, China"),
    "HK": _("Hong Kong, China"),
    "MO": _("Macao, China"),
}

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Uploaded photos, licences and vouchers: never under a public URL, only through views
# that check permission.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SESSION_COOKIE_HTTPONLY = True
# Behind the production TLS proxy: secure cookies, HTTPS detected from the proxy's header.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # The container health check speaks plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    # Only the organiser knows whether every subdomain of its domain speaks HTTPS only
    # (`check --deploy` warns until these are set: security.W005, security.W021).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): no inline script or style — scripts and styles come from
# static files, and the few inline blocks that must stay carry the response's nonce
# ({{ request.csp_nonce }}). Violations are reported to /csp-report/, which logs them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [NONE],
        "report-uri": "/csp-report/",
    },
}
# Browser features no page needs are denied; a page that needs one (the gate's camera) widens it
# for itself (ciie_portal.middleware.PermissionsPolicyMiddleware).
PERMISSIONS_POLICY = {
    "camera": [],
    "microphone": [],
    "geolocation": [],
    "payment": [],
    "usb": [],
    "interest-cohort": [],
}

# Passwords: Argon2id with OWASP's parameters (7 MiB, 5 passes, 1 lane); older hashes are
# upgraded at the next sign-in.
PASSWORD_HASHERS = [
    "ciie_portal.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

# Two-factor sign-in for staff (django-otp): required for every staff account in the admin.
# Only embedded mode may exempt the demo accounts (make run), so a demo can be shown at once.
OTP_TOTP_ISSUER = "CIIE 进博会"
TWO_FACTOR_DEMO_EXEMPT = env_bool("TWO_FACTOR_DEMO_EXEMPT", default=EMBEDDED)
if TWO_FACTOR_DEMO_EXEMPT and not EMBEDDED:
    raise ImproperlyConfigured("TWO_FACTOR_DEMO_EXEMPT is for embedded mode (make run) only.")

# --- Celery ---------------------------------------------------------------------------------
# Without a broker, tasks run in-process (still only after the transaction commits). Every task
# the portal queues is first written to the outbox table in the same transaction as the change
# (ciie_portal.outbox): publishing after commit never fails a request, and the relay publishes
# whatever is left within seconds of the broker coming back.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only once it has run, and given back to the queue when its worker
# process dies: every task is safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_DEFAULT_QUEUE", default="ciie")
# Long batch work (production) has its own queue, so that notices never wait behind it.
CELERY_BATCH_QUEUE = env.str("CELERY_BATCH_QUEUE", default="ciie-batch")
CELERY_TASK_ROUTES = {
    "credentials.tasks.production_job_run": {"queue": CELERY_BATCH_QUEUE},
    "credentials.tasks.credentials_revoke_stale": {"queue": CELERY_BATCH_QUEUE},
    "ciie_portal.tasks.shred_job_run": {"queue": CELERY_BATCH_QUEUE},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged message (its worker was killed) comes back after this long: longer than
    # the longest task's hard time limit (the edition-wide revocation check, 30 min), or a task
    # still running would be delivered twice. Nothing waits for it: notices are swept again
    # within a minute, production jobs taken over when their lease ends, invoices and refunds
    # queued again by their own sweeps.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2400),
    # A broker that does not answer fails a publish quickly; the outbox relay publishes later.
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_TIMEZONE = TIME_ZONE
# The relay's cadence (seconds): outbox publishing, notice recovery and production take-over.
OUTBOX_RELAY_SECONDS = env.float("OUTBOX_RELAY_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    # 积分: events of the current edition not counted yet (credentials.points), each once.
    "points-catch-up": {
        "task": "credentials.tasks.points_catch_up",
        "schedule": timedelta(minutes=10),
    },
    "outbox-relay": {
        "task": "ciie_portal.tasks.outbox_relay",
        "schedule": timedelta(seconds=OUTBOX_RELAY_SECONDS),
    },
    "notices-recover": {
        "task": "ciie_portal.tasks.notices_recover",
        "schedule": timedelta(seconds=OUTBOX_RELAY_SECONDS * 2),
    },
    "production-jobs-take-over": {
        "task": "credentials.tasks.production_jobs_take_over",
        "schedule": timedelta(seconds=15),
    },
    "credential-orders-expire": {
        "task": "credentials.tasks.orders_expire",
        "schedule": timedelta(minutes=1),
    },
    # Reminders to pay before an order's window ends and before each method's deadline
    # (credentials.orders.reminders); each sent once per order and deadline.
    "credential-payment-reminders": {
        "task": "credentials.tasks.payment_reminders",
        "schedule": timedelta(minutes=1),
    },
    "invoices-issue-pending": {
        "task": "invoicing.tasks.invoices_issue_pending",
        "schedule": timedelta(minutes=5),
    },
    "credentials-revoke-stale": {
        "task": "credentials.tasks.credentials_revoke_stale",
        "schedule": timedelta(minutes=15),
    },
    "payments-expire": {
        "task": "payments.tasks.payments_expire",
        "schedule": timedelta(minutes=5),
    },
    "refunds-resend-pending": {
        "task": "payments.tasks.refunds_resend_pending",
        "schedule": timedelta(minutes=5),
    },
    # Editions past their retention date (organisers told once), expired shred exports
    # deleted, shred jobs whose worker is gone taken over (ciie_portal.retention).
    "retention-housekeeping": {
        "task": "ciie_portal.tasks.retention_housekeeping",
        "schedule": timedelta(minutes=5),
    },
    "shred-jobs-take-over": {
        "task": "ciie_portal.tasks.shred_jobs_take_over",
        "schedule": timedelta(seconds=30),
    },
    # Scheduled exports (registration.exports): those due from 07:00 Beijing time, each once
    # per day or week, claimed hourly at :05 and emailed as .xlsx.
    "export-subscriptions-due": {
        "task": "registration.tasks.export_subscriptions_due",
        "schedule": crontab(minute=5),
    },
}
# A production job's worker holds its lease this long and renews it after every print batch;
# a job whose lease ran out (its worker died) is taken over by the beat task above.
PRODUCTION_LEASE_SECONDS = env.int("PRODUCTION_LEASE_SECONDS", default=45)
# A shred job likewise (ciie_portal.retention), renewed after every chunk of this many records.
SHRED_LEASE_SECONDS = env.int("SHRED_LEASE_SECONDS", default=300)
SHRED_CHUNK = env.int("SHRED_CHUNK", default=500)

# --- Cache ----------------------------------------------------------------------------------
# Shared by every web and worker process (the gate's revocation list must agree at once
# everywhere): Redis in real mode — CACHE_URL, or database 1 of the Redis broker — and
# per-process memory only in embedded mode.
_CACHE_URL = env.str("CACHE_URL", default="")
if not _CACHE_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    _CACHE_URL = urlunsplit(urlsplit(CELERY_BROKER_URL)._replace(path="/1"))
if _CACHE_URL:
    CACHES = {"default": env.cache_url_config(_CACHE_URL)}
    CACHES["default"].setdefault("KEY_PREFIX", "ciie")
    if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        CACHES["default"]["BACKEND"] = "ciie_portal.redis_cache.RedisCache"  # one client
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The parts of a page every page shares (the top bar, the menus, the footer), rendered once per
# process by Django's {% cache %} tag, which reads this alias: their keys hold everything they
# are rendered from (language, the edition's name and dates), so nothing needs invalidating and
# per-process memory is the right place (a round trip to Redis would cost what it saves). Also
# the visitor list's filters and the empty add-visitor form, per unit's addresses: at most 2,000
# fragments, the largest (a foreign visitor's form, 250 countries) about 18 KB, so at worst
# some 36 MB per process; the least recently used go first.
CACHES["template_fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "template-fragments",
    "TIMEOUT": None,
    "OPTIONS": {"MAX_ENTRIES": 2000},
}
# Sessions are read from the shared cache and written to both it and the database (a lost
# cache entry falls back to the row), a new session's row once (ciie_portal.session_store); with
# only per-process memory they stay in the database, since another process would read an
# outdated copy.
SESSION_ENGINE = (
    "ciie_portal.session_store" if _CACHE_URL else "django.contrib.sessions.backends.db"
)

# --- Payments ---------------------------------------------------------------------------------
# Gateways behind one interface (payments.providers). The sandbox plays Alipay/WeChat/UnionPay and
# the B2B bank with HMAC-signed notifications; it is on only in embedded mode, or when
# PAYMENT_SANDBOX_ENABLED=true is set explicitly (with PAYMENT_SANDBOX_SECRET of its own).
PAYMENT_PROVIDERS = env.list(
    "PAYMENT_PROVIDERS",
    default=["payments.providers.SandboxQrProvider", "payments.providers.SandboxB2bProvider"],
)
PAYMENT_SANDBOX_ENABLED = env_bool("PAYMENT_SANDBOX_ENABLED", default=EMBEDDED)
PAYMENT_SANDBOX_SECRET = env.str("PAYMENT_SANDBOX_SECRET", default="")
if PAYMENT_SANDBOX_ENABLED and not PAYMENT_SANDBOX_SECRET:
    if not EMBEDDED and not ALLOW_LOCAL_KEYS:
        raise ImproperlyConfigured(
            "PAYMENT_SANDBOX_ENABLED=true needs PAYMENT_SANDBOX_SECRET of its own (a random hex "
            "string): the sandbox's notifications must not be signed with SECRET_KEY."
        )
    # Embedded and development machines: a key of its own, derived so it is stable.
    PAYMENT_SANDBOX_SECRET = hashlib.sha256(f"sandbox:{SECRET_KEY}".encode()).hexdigest()

# --- Invoices ---------------------------------------------------------------------------------
# The seller printed on invoices (name, tax_number, address, bank): JSON; {} uses a demo seller.
INVOICE_SELLER = env.json("INVOICE_SELLER", default={})
INVOICE_TAX_RATE = Decimal(env.str("INVOICE_TAX_RATE", default="0.06"))
# (path, subfont index) of a TrueType CJK font for PDFs (invoices, credential cards); None tries
# the Debian fonts in turn (ciie_portal/pdf_fonts.py).
PDF_CJK_FONT = None

# --- Notices --------------------------------------------------------------------------------
OUTBOX_DIR = Path(env.str("OUTBOX_DIR", default=str(VAR_DIR / "outbox")))
SMS_BACKEND = env.str("SMS_BACKEND", default="ciie_portal.notices.backends.OutboxSmsBackend")
# Template codes registered with the SMS provider, by notice template key.
SMS_TEMPLATE_CODES = env.dict("SMS_TEMPLATE_CODES", default={})
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="进博会")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="ciie_portal.notices.backends.OutboxEmailBackend")
if env.str("EMAIL_URL", default=""):
    # smtp+tls://user:password@host:587 sets EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="进博会专业观众报名 <noreply@ciie.local>"
)
NOTICE_MAX_ATTEMPTS = env.int("NOTICE_MAX_ATTEMPTS", default=5)
# Seconds before retry n (1-based): 30, 60, 120, 240, ... capped.
NOTICE_RETRY_BASE_SECONDS = env.int("NOTICE_RETRY_BASE_SECONDS", default=30)
NOTICE_RETRY_MAX_SECONDS = env.int("NOTICE_RETRY_MAX_SECONDS", default=3600)
# A worker sending a notice holds it this long (longer than any provider call may take: see
# EMAIL_TIMEOUT); a notice still "sending" after that is resolved — asked of the provider or
# the outbox — and sent again only when it is known not to have gone.
NOTICE_LEASE_SECONDS = env.int("NOTICE_LEASE_SECONDS", default=30)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# A queued notice whose message has not been taken this long, while its queue is short, lost
# its message (a broker restarted without persistence, a killed worker's prefetch): sent again.
NOTICE_OVERDUE_SECONDS = env.int("NOTICE_OVERDUE_SECONDS", default=30)

# --- Metrics and readiness (ciie_portal.metrics, ciie_portal.views_ops) -----------------------
# /metrics answers a request with "Authorization: Bearer <METRICS_TOKEN>", or a direct one (not
# through a proxy) from an address in METRICS_ALLOWED_IPS (CIDR, comma-separated); others get
# a 404. With several processes (gunicorn workers, a Celery prefork pool) PROMETHEUS_MULTIPROC_DIR
# (read by prometheus-client from the environment) names the directory their metrics meet in;
# a worker with METRICS_PORT serves its own on that port (see gunicorn.conf.py, README).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = tuple(env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"]))

# --- Logs -----------------------------------------------------------------------------------
# Every line through ciie_portal.logs: one JSON object per line (LOG_FORMAT=json, the default
# without DEBUG: production, docker compose) or readable text (LOG_FORMAT=text, the default with
# DEBUG: make run); the request id bound, ID numbers, mobiles and secrets redacted. One line per
# request (ciie_portal.request_log) and per task run; the lines that would repeat them (runserver's
# request lines with their query string, Django's 4xx warnings, Celery's "succeeded") are left
# out, Django's own handlers too (its lines go through the root's).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "ciie_portal.logs.json_formatter"},
        "text": {"()": "ciie_portal.logs.text_formatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"level": "CRITICAL"},
        "django.request": {"level": "ERROR"},
        # django-axes logs every successful login at INFO; failures and lockouts stay.
        "axes": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
    },
}

# --- Error reporting (Sentry) ---------------------------------------------------------------
# Off unless SENTRY_DSN is set. Personal data scrubbed before anything is sent
# (ciie_portal.error_reports): no request bodies, cookies or credentials, the user as an id only.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    from ciie_portal.error_reports import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Operations page (运行监控, ciie_portal/admin_ops.py) ---------------------------------------
# A production job running (or stopping) with no sign of life for this many minutes is listed
# under "Production jobs without progress".
OPS_STALLED_JOB_MINUTES = env.int("OPS_STALLED_JOB_MINUTES", default=5)
# How often the page refreshes itself from its JSON, in seconds.
OPS_REFRESH_SECONDS = env.int("OPS_REFRESH_SECONDS", default=15)
