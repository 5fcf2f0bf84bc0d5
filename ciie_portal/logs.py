"""Structured logs: every log line of the portal — its own, Django's, Celery's — as one JSON object
per line (``LOG_FORMAT=json``, production) or as readable text (``LOG_FORMAT=text``, ``make run``),
rendered by structlog's ``ProcessorFormatter`` behind the standard library's ``logging``.

Each line carries ``time`` (ISO 8601, UTC, microseconds), ``level``, ``logger``, ``event`` (the
message) and whatever is bound to the context: the ``request_id`` of the request being served
(``ciie_portal.request_log``), and in a task the ``task_name``, ``task_id`` and the ``request_id``
of the request that queued it. One line per request is written by ``ciie_portal.request_log``;
one line per task run state (started, then succeeded, failed or retried) here.

The request id travels with the task: :func:`task_headers` is what the outbox stores with every
message it writes (``OutboxMessage.headers``) and publishes as the Celery message's headers,
whether the request itself publishes it after its commit or the relay does later; the worker binds
it in ``task_prerun``.

No line holds a full ID number, mobile or password: :func:`redact` replaces Chinese ID numbers
(17 digits and a check character), unified social credit codes, mainland mobiles, and the value of
every field whose name says it is a secret or a personal number (password, token, secret,
id_number, mobile, passport, ...) — in messages, in bound values and in tracebacks. Request bodies
are never logged. The same rules scrub the events sent to Sentry (``ciie_portal.error_reports``).
"""

import datetime as dt
import decimal
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePath

import structlog
from celery.signals import setup_logging, task_postrun, task_prerun

# --- Personal data out of every line ----------------------------------------------------------

REDACTED = "[redacted]"

#: A key whose name contains one of these has its value replaced, whatever the value is.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "id_number",
    "idnumber",
    "mobile",
    "phone",
    "passport",
    "permit_number",
    "document_number",
    "authorization",
    "cookie",
    "csrf",
    "sessionid",
    "api_key",
    "apikey",
)
_KEY_WORDS = "|".join(re.escape(part).replace("_", "[_-]?") for part in SENSITIVE_KEY_PARTS)
_SENSITIVE_KEY = re.compile(_KEY_WORDS, re.IGNORECASE)

# "password=…", "mobile: …", '"id_number": "…"' inside a message or a query string.
_KEYED_VALUE = re.compile(
    rf"(?<![A-Za-z0-9_-])(?P<key>[A-Za-z0-9_-]*?(?:{_KEY_WORDS})[A-Za-z0-9_-]*)"
    r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<value>[^\s\"'&,;)}\][][^\s\"'&,;)}\]]*)",
    re.IGNORECASE,
)

_USCC_CHAR = "[0-9A-HJ-NPQRTUWXY]"
# Numbers that stand alone (not part of a longer run of letters and digits: a hash, a uuid).
# A Chinese ID number is 17 digits and a check character: one whose check character is wrong (a
# typo) is still someone's, so every such shape is redacted. A USCC is 18 characters of its
# alphabet. A mainland mobile is 11 digits from 13–19, with or without +86 and separators.
_PERSONAL_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"(?P<id_number>\d{17}[0-9X])"
    rf"|(?P<uscc>{_USCC_CHAR}{{2}}\d{{6}}{_USCC_CHAR}{{10}})"
    r"|(?P<mobile>(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2})"
    r")(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_HAS_DIGIT = re.compile(r"\d")


def _mask_number(match: re.Match) -> str:
    return f"[{match.lastgroup}]"


@lru_cache(maxsize=1024)
def sensitive_key(key: str) -> bool:
    """Whether a field named ``key`` holds a secret or a personal number."""
    return bool(_SENSITIVE_KEY.search(key))


def redact_text(text: str) -> str:
    """``text`` with ID numbers, USCCs, mobiles and the values of sensitive ``key=value`` pairs
    replaced."""
    if not text:
        return text
    if ("=" in text or ":" in text) and _SENSITIVE_KEY.search(text):
        text = _KEYED_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    if _HAS_DIGIT.search(text):
        text = _PERSONAL_NUMBER.sub(_mask_number, text)
    return text


def redact(value, _depth: int = 0):
    """``value`` (strings, mappings, lists, tuples, nested) with personal data replaced: a
    sensitive key's value whole, every string by :func:`redact_text`."""
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 20:
        return value
    if isinstance(value, Mapping):
        redacted = {}
        for key, item in value.items():
            if isinstance(key, str) and sensitive_key(key) and item not in (None, "", [], {}):
                redacted[key] = REDACTED
            else:
                redacted[key] = redact(item, _depth + 1)
        return redacted
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    return value


def _plain(value):
    """A value a JSON line can hold, without saying more than it should: a request is its method
    and path (never its query string or body), a model row its class and primary key."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID | PurePath | dt.timedelta):
        return str(value)
    if hasattr(value, "method") and hasattr(value, "path") and hasattr(value, "META"):
        return f"{value.method} {value.path}"  # an HttpRequest
    meta = getattr(value, "_meta", None)
    if meta is not None and hasattr(value, "pk"):
        return f"<{meta.label} {value.pk}>"  # a model instance: its __str__ may be a name
    return repr(value)[:1000]


def plain_values(logger, method_name, event_dict):
    """structlog processor: every value JSON-serialisable (see :func:`_plain`)."""
    return {key: _plain(value) for key, value in event_dict.items()}


#: Written by the formatter itself: nothing personal in them.
_OWN_KEYS = frozenset({"time", "level", "logger"})


def redact_personal_data(logger, method_name, event_dict):
    """structlog processor: :func:`redact` over the whole line (after tracebacks are text)."""
    own = {key: event_dict[key] for key in _OWN_KEYS if key in event_dict}
    redacted = redact({key: value for key, value in event_dict.items() if key not in own})
    return {**own, **redacted}


_FIRST = ("time", "level", "event", "logger", "request_id")


def first_keys(logger, method_name, event_dict):
    """structlog processor: time, level, event, logger and request id first in every line."""
    ordered = {key: event_dict[key] for key in _FIRST if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _redact_rendered(logger, method_name, line):
    """After the text renderer: the traceback it printed, once more through the patterns."""
    return redact_text(line)


# --- Formatters (named by LOGGING in settings) --------------------------------------------------

_TIME = structlog.processors.TimeStamper(fmt="iso", utc=True, key="time")

#: What every line of the standard library's loggers gets before rendering.
PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    _TIME,
]


def json_formatter() -> logging.Formatter:
    """One JSON object per line (``LOG_FORMAT=json``)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            plain_values,
            redact_personal_data,
            first_keys,
            structlog.processors.JSONRenderer(ensure_ascii=False, sort_keys=False),
        ],
    )


def text_formatter() -> logging.Formatter:
    """Readable lines for a developer's terminal (``LOG_FORMAT=text``): the same fields."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            plain_values,
            redact_personal_data,
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
            _redact_rendered,
        ],
    )


# --- The request id ----------------------------------------------------------------------------

#: The Celery message header that carries the request id into a task.
REQUEST_ID_HEADER = "request_id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{7,127}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it may be used as a request id (8–128 characters of letters, digits and
    ``._:+=/-``, nothing a log would have to redact), else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value) and redact_text(value) == value:
        return value
    return None


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def task_headers() -> dict:
    """The Celery headers for a task queued now: the request id of the request (or of the task)
    being served, if any."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def run_in_own_context(function, *args, **kwargs):
    """Run ``function`` with a logging context of its own: what it binds is gone afterwards,
    and what was bound before is back.

    Only the logging context is set aside, not the whole ``contextvars`` context: Django keeps
    its caches (and with them the Redis connections) in context-local storage, and a request
    run in a copied context would build a new cache client — and a new Redis connection — on
    every request."""
    before = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    try:
        return function(*args, **kwargs)
    finally:
        structlog.contextvars.clear_contextvars()
        if before:
            structlog.contextvars.bind_contextvars(**before)


# --- Task runs ---------------------------------------------------------------------------------

task_logger = logging.getLogger("ciie_portal.task_log")

# task id → (start, context tokens) of each run in progress in this process (a list: an eager
# retry runs again under the same id before the first run has finished).
_RUNNING: dict[str, list[tuple[float, dict]]] = {}

_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


def _header(task, name: str):
    request = task.request
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value if isinstance(value, str) else None


@task_prerun.connect(dispatch_uid="ciie_portal.logs.task_started")
def _task_started(sender=None, task_id=None, task=None, **kwargs):
    task = task or sender
    bound = {"task_name": task.name, "task_id": task_id}
    request_id = sane_request_id(_header(task, REQUEST_ID_HEADER))
    if request_id:
        bound["request_id"] = request_id
    tokens = structlog.contextvars.bind_contextvars(**bound)
    _RUNNING.setdefault(task_id, []).append((time.perf_counter(), tokens))
    task_logger.info("task", extra={"state": "started"})


@task_postrun.connect(dispatch_uid="ciie_portal.logs.task_finished")
def _task_finished(sender=None, task_id=None, task=None, retval=None, state=None, **kwargs):
    runs = _RUNNING.get(task_id) or []
    started, tokens = runs.pop() if runs else (None, {})
    if not runs:
        _RUNNING.pop(task_id, None)
    if not state and sys.exc_info()[1] is not None:
        # Run in-process with its errors raised to the caller (apply(throw=True)): Celery sends
        # no state, the error is on its way up.
        state, retval = "FAILURE", sys.exc_info()[1]
    fields = {"state": _STATES.get(state, str(state or "").lower() or "finished")}
    if started is not None:
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    if isinstance(retval, BaseException):
        error = getattr(retval, "exc", None) or retval  # a Retry names what it retries
        fields["error"] = type(error).__name__
    level = logging.WARNING if state in ("FAILURE", "RETRY") else logging.INFO
    try:
        task_logger.log(level, "task", extra=fields)
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


@setup_logging.connect(dispatch_uid="ciie_portal.logs.keep_django_logging")
def _keep_django_logging(**kwargs):
    """Celery workers and beat keep the LOGGING of the settings (JSON lines) instead of their own
    format: a connected receiver tells Celery not to configure logging. What tasks print (the
    console SMS backend's copy of each message) still becomes log lines, as Celery does by
    default (``worker_redirect_stdouts``): JSON, redacted, never a bare line."""
    from celery import current_app

    if current_app.conf.worker_redirect_stdouts:
        current_app.log.redirect_stdouts(current_app.conf.worker_redirect_stdouts_level)
