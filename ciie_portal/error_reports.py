"""Error reporting to Sentry, which a deployment switches on by setting ``SENTRY_DSN`` (off by
default; settings call :func:`sentry_init` only then).

Errors of requests (Django) and of tasks (Celery) are sent with personal data scrubbed by
:func:`scrub_event` before anything leaves the server: no request body, no cookies, no
``Authorization``/``Cookie``/CSRF headers, the URL without its query values, no local variables of
the stack frames, the user as their id only; every remaining string (exception messages,
breadcrumbs, tags) through the same redaction as the logs (:func:`ciie_portal.logs.redact`: ID
numbers, USCCs, mobiles, and the values of password/token/secret/id_number/mobile/passport
fields). Each event is tagged with the request id — the one in the ``X-Request-ID`` header and the
log lines — so that an error is found in the logs at once.
"""

from urllib.parse import parse_qsl, urlsplit, urlunsplit

import structlog

from .logs import redact

#: Request headers never sent.
DROPPED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrftoken"}
)


def _query_keys_only(query: str) -> str:
    """``a=1&b=2`` → ``a=&b=``: which fields a query had, not what was typed in them."""
    keys = [key for key, _value in parse_qsl(query or "", keep_blank_values=True)]
    return "&".join(f"{key}=" for key in keys)


def _scrub_request(request: dict) -> dict:
    request = dict(request)
    request.pop("data", None)
    request.pop("cookies", None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: value
            for name, value in headers.items()
            if str(name).lower() not in DROPPED_HEADERS
        }
    url = request.get("url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        request["url"] = urlunsplit(parts._replace(query=_query_keys_only(parts.query)))
    if request.get("query_string"):
        query = request["query_string"]
        request["query_string"] = _query_keys_only(query if isinstance(query, str) else "")
    return request


def _scrub_frames(event: dict) -> None:
    """No local variables: a password in a variable named ``value`` cannot be recognised."""
    for section in ("exception", "threads"):
        for value in (event.get(section) or {}).get("values") or []:
            for frame in (value.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """Sentry's ``before_send`` (and ``before_send_transaction``): the event with personal data
    removed (see the module)."""
    event = dict(event)
    if isinstance(event.get("request"), dict):
        event["request"] = _scrub_request(event["request"])
    _scrub_frames(event)

    bound = structlog.contextvars.get_contextvars()
    user = event.get("user") if isinstance(event.get("user"), dict) else {}
    user_id = user.get("id") or bound.get("user_id")
    if user_id is not None:
        event["user"] = {"id": str(user_id)}
    else:
        event.pop("user", None)

    tags = dict(event.get("tags") or {})
    for key in ("request_id", "role", "task_name", "task_id"):
        if bound.get(key) is not None and key not in tags:
            tags[key] = str(bound[key])
    if tags:
        event["tags"] = tags

    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict) and isinstance(breadcrumbs.get("values"), list):
        event["breadcrumbs"] = {
            **breadcrumbs,
            "values": [scrub_breadcrumb(crumb) for crumb in breadcrumbs["values"]],
        }
    return redact(event)


def scrub_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    """Sentry's ``before_breadcrumb``: a log line's or an HTTP call's breadcrumb, redacted."""
    crumb = dict(crumb)
    data = crumb.get("data")
    if isinstance(data, dict) and isinstance(data.get("url"), str):
        parts = urlsplit(data["url"])
        data = {**data, "url": urlunsplit(parts._replace(query=_query_keys_only(parts.query)))}
        crumb["data"] = data
    return redact(crumb)


def sentry_init(
    *, dsn: str, environment: str, release: str | None, traces_sample_rate: float = 0.0, **options
):
    """Start reporting to ``dsn`` with the Django and Celery integrations (settings call this
    only when ``SENTRY_DSN`` is set)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    from .logs import SENSITIVE_KEY_PARTS

    return sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        event_scrubber=EventScrubber(
            denylist=sorted({*DEFAULT_DENYLIST, *SENSITIVE_KEY_PARTS}), recursive=True
        ),
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        traces_sample_rate=traces_sample_rate,
        **options,
    )
