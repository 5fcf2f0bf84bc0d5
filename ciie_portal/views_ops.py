"""The machines' endpoints for running the portal: ``/metrics`` (Prometheus) and ``/readyz``
(readiness). ``/healthz`` (liveness, ``ciie_portal.views``) stays the cheapest check there is.
"""

import hmac
import ipaddress
import logging
from functools import cache

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from . import metrics

logger = logging.getLogger(__name__)

# Headers a reverse proxy adds: a request carrying one came through a proxy, and its
# REMOTE_ADDR is the proxy's, not the client's.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
# Seconds the broker check waits for a connection.
BROKER_TIMEOUT = 2.0


@cache
def _allowed_networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def metrics_allowed(request) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, or a direct request from an address of
    ``METRICS_ALLOWED_IPS``.

    The address is REMOTE_ADDR, the peer of the connection. A request that came through a
    reverse proxy (it carries X-Forwarded-For, Forwarded or X-Real-IP) is allowed by the token
    only: its REMOTE_ADDR is the proxy's (127.0.0.1 when the proxy runs on the same host, so
    every visitor would pass), and the client's address in the header is the client's to
    write when the portal is reached without the proxy.
    """
    token = settings.METRICS_TOKEN
    if token:
        scheme, _space, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _allowed_networks(settings.METRICS_ALLOWED_IPS))


@never_cache
@require_GET
def metrics_view(request):
    """The metrics in Prometheus's text format; 404 for whoever may not read them."""
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# --- /readyz -----------------------------------------------------------------------------------

_migrations_applied = False


def check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_migrations() -> None:
    """Every migration of the code is applied. Once seen so, it stays so for this process (the
    code does not change under it), and the migration files are not read again."""
    global _migrations_applied
    if _migrations_applied:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migrations not applied")
    _migrations_applied = True


def check_cache() -> None:
    """The shared cache (Redis in production) answers: a key written is read back."""
    shared_cache.set("readyz", "1", 10)
    if shared_cache.get("readyz") != "1":
        raise RuntimeError("the cache did not keep a key")


def check_broker() -> None:
    """The Celery broker accepts a connection within ``BROKER_TIMEOUT`` seconds. Without one
    (``memory://``: tasks run in-process) there is nothing to reach."""
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER or url.startswith("memory://"):
        return
    from kombu import Connection

    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})
    options.update(socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT)
    with Connection(url, connect_timeout=BROKER_TIMEOUT, transport_options=options) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


CHECKS = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
}


@never_cache
@require_GET
def readyz(request):
    """Ready to serve: the database answers with every migration applied, the shared cache and
    the broker are reachable. 200 with each check's result, 503 naming the failing ones (the
    error's kind only; the log has the details)."""
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "skipped"
            continue
        try:
            check()
        except Exception as error:
            logger.warning("Readiness check %s failed: %s", name, error)
            results[name] = f"failed: {type(error).__name__}"
        else:
            results[name] = "ok"
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
