"""The request id and one log line per request.

:class:`RequestLogMiddleware` (first in ``MIDDLEWARE``) takes the request id from a sane incoming
``X-Request-ID`` header (a proxy's; see :func:`ciie_portal.logs.sane_request_id`) or makes one,
binds it to the logging context for everything the request logs — and for the tasks it queues,
through the outbox — returns it in the response's ``X-Request-ID`` header, and writes one line
when the response is ready::

    {"event": "request", "method": "GET", "path": "/visitors/", "query_keys": ["q"],
     "view": "registration:visitor_list", "status": 200, "duration_ms": 12.3, "user_id": 7,
     "role": "unit_contact", "remote_addr": "203.0.113.9", "request_id": "…", "time": "…", …}

The path is logged without its query string: a search by ID number or mobile is a query value,
so only the names of the query's fields are kept. Bodies are never logged.

The role is the user's kind — ``anonymous``, ``unit_contact``, or for staff their roles
(``organiser``, ``secretary``, ``finance``, ``security_reviewer``, ``credential_office``,
``gate``; ``staff`` when none) — read without a query per request: a staff member's roles are
remembered in their session when they sign in (a change of groups shows from their next sign-in).
"""

import logging
import time

import structlog
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils.functional import empty

from . import logs, roles

logger = logging.getLogger("ciie_portal.request_log")

HEADER = "X-Request-ID"
ROLE_SESSION_KEY = "_log_role"
MAX_PATH = 300

#: Staff roles as the log names them, in the order they are listed when someone has several.
ROLE_NAMES = {
    roles.ORGANISER: "organiser",
    roles.SECRETARY: "secretary",
    roles.FINANCE: "finance",
    roles.SECURITY_REVIEWER: "security_reviewer",
    roles.CREDENTIAL_OFFICE: "credential_office",
    roles.GATE: "gate",
}


def staff_role(user) -> str:
    """A staff member's roles as the log names them (one query: their groups)."""
    names = set(user.groups.values_list("name", flat=True))
    found = [slug for group, slug in ROLE_NAMES.items() if group in names]
    if found:
        return ",".join(found)
    return "superuser" if user.is_superuser else "staff"


@receiver(user_logged_in, dispatch_uid="ciie_portal.request_log.remember_role")
def _remember_role(sender, request=None, user=None, **kwargs):
    if request is None or user is None or not user.is_staff:
        return
    session = getattr(request, "session", None)
    if session is not None:
        session[ROLE_SESSION_KEY] = staff_role(user)


def _resolved_user(request):
    """The request's user if the request has already looked it up, else None (logging never
    costs a query)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    return None if wrapped is empty else user


def user_fields(request) -> dict:
    user = _resolved_user(request)
    if user is None:
        signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES
        return {"user_id": None, "role": "unknown" if signed_in else "anonymous"}
    if not user.is_authenticated:
        return {"user_id": None, "role": "anonymous"}
    if not user.is_staff:
        return {"user_id": user.pk, "role": "unit_contact"}
    session = getattr(request, "session", None)
    role = session.get(ROLE_SESSION_KEY) if session is not None else None
    return {"user_id": user.pk, "role": role or "staff"}


def client_address(request) -> str | None:
    """The client's address: behind the ``TRUSTED_PROXY_COUNT`` proxies in front of the portal,
    the one they saw (from ``X-Forwarded-For``, counted from the right: what a client wrote
    there itself is not taken), else ``REMOTE_ADDR``. The rate limits count by the same."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        if len(forwarded) >= proxies and forwarded[-proxies]:
            return forwarded[-proxies][:64]
    return request.META.get("REMOTE_ADDR")


def _query_keys(request) -> list[str] | None:
    if not request.META.get("QUERY_STRING"):
        return None
    try:
        return sorted({key[:50] for key in request.GET})[:20]
    except Exception:  # too many fields, undecodable: the line goes out without them
        return None


def _view_name(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    return match.view_name or match._func_path


class RequestLogMiddleware:
    """First in MIDDLEWARE: the request id, and one line per request (see the module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Everything bound while serving it is gone afterwards (a worker thread serves the next
        # request with a clean context).
        return logs.run_in_own_context(self._serve, request)

    def _serve(self, request):
        started = time.perf_counter()
        request_id = logs.sane_request_id(request.headers.get(HEADER)) or logs.new_request_id()
        request.request_id = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        try:
            self._log(request, response, started)
        except Exception:  # a log line must never fail a response
            logger.exception("Could not write the request's log line")
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Who is asking, for what the view logs (the middleware above has looked them up)."""
        fields = user_fields(request)
        if fields["user_id"] is not None:
            structlog.contextvars.bind_contextvars(**fields)

    def _log(self, request, response, started):
        fields = {
            "method": request.method,
            "path": request.path[:MAX_PATH],
        }
        query_keys = _query_keys(request)
        if query_keys:
            fields["query_keys"] = query_keys
        fields.update(
            view=_view_name(request),
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **user_fields(request),
            remote_addr=client_address(request),
        )
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        logger.log(level, "request", extra=fields)
