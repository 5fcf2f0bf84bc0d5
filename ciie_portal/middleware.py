"""Failures that are the server's configuration, not the request's, answered as such."""

import logging

from django.conf import settings
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from .crypto import KeysMismatch

logger = logging.getLogger(__name__)


class KeysMismatchMiddleware:
    """A database whose ID numbers this server cannot decrypt answers 503 with a page saying so.

    It happens when a backup is restored, or the server started, without the
    ``ID_ENCRYPTION_KEY`` that belongs to the data: every page that reads an ID number would
    otherwise be a bare 500, visitors and secretaries would retry, and the organiser would have
    to find the reason in a traceback. Admin pages go through here too.

    Each such request is logged once, as one error here: the response is marked as logged so
    that Django's request logger does not report it again as a 503. The traceback comes with the
    first one in the process only, since every later one fails the same way until the server is
    restarted with the right keys.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.traceback_logged = False

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, KeysMismatch):
            return None
        logger.error(
            "Stored ID numbers cannot be decrypted with this server's ID_ENCRYPTION_KEY "
            "(%s %s): start the server with the keys that belong to this database.",
            request.method,
            request.path,
            exc_info=None if self.traceback_logged else exception,
        )
        self.traceback_logged = True
        response = render(request, "errors/keys_mismatch.html", status=503)
        add_never_cache_headers(response)
        response._has_been_logged = True
        return response


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` from ``settings.PERMISSIONS_POLICY`` to every response.

    A view that needs a feature (the gate scanner's camera) sets
    ``response.permissions_policy = {"camera": ["self"]}``; its entries replace the defaults.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Permissions-Policy" not in response:
            policy = {**settings.PERMISSIONS_POLICY, **getattr(response, "permissions_policy", {})}
            response["Permissions-Policy"] = ", ".join(
                f"{feature}=({' '.join(_origin(o) for o in origins)})"
                for feature, origins in policy.items()
            )
        return response


def _origin(origin: str) -> str:
    return origin if origin in ("self", "*") else f'"{origin}"'
