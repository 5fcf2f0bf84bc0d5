"""The gate device's web app at ``gate/app/``: the page, its manifest and its service worker.

The page holds no data and needs no sign-in: a device becomes one by its enrolment link
(``/gate/app/#enrol=<token>``), and every call to the device API (``gate/api/``) carries the
device's own key. The app (static/js/gate-app.js) checks online through the API and, when the
network fails, offline with static/js/gate-check.js on the bundle it keeps in IndexedDB; the
service worker (static/js/gate-sw.js) keeps the app shell so that the page opens offline.
"""

import functools
import hashlib
import json

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_GET

from registration.models import Label

THEME_COLOUR = "#b3121d"
ICON = "img/gate-icon.svg"
PNG_ICONS = (("img/gate-icon-192.png", "192x192"), ("img/gate-icon-512.png", "512x512"))
SERVICE_WORKER = "js/gate-sw.js"

# What the app needs to open without the network, besides the page and its manifest.
SHELL_STATIC = (
    "vendor/bootstrap-5.3.9/bootstrap.min.css",
    "vendor/bootstrap-5.3.9/bootstrap.bundle.min.js",
    "css/portal.css",
    "js/portal.js",
    "js/gate-check.js",
    "js/gate-app.js",
    "vendor/jsqr/jsQR.js",
    "vendor/noble-ed25519/index.js",
    ICON,
    *(path for path, _size in PNG_ICONS),
)

# The device API (credentials/entry/urls.py); the paths are the contract of docs/gate.md.
API = {
    "enrol": ("gate:api-enrol", "/gate/api/enrol/"),
    "bundle": ("gate:api-bundle", "/gate/api/bundle/"),
    "scan": ("gate:api-scan", "/gate/api/scan/"),
    "scans": ("gate:api-scans", "/gate/api/scans/"),
}


def _url(name: str, fallback: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def _app_urls() -> dict:
    return {
        "app": _url("gate:app", "/gate/app/"),
        "manifest": _url("gate:app-manifest", "/gate/app/manifest.webmanifest"),
        "service_worker": _url("gate:app-sw", "/gate/app/sw.js"),
    }


def _both(count_text) -> dict:
    """Both plural forms of a text, for the app to choose by the count (English and Chinese
    need no more); ``count_text(n)`` is the ngettext call, written out so that makemessages
    finds it."""
    return {"one": count_text(1), "other": count_text(2)}


def _texts() -> dict:
    """Everything the app says, in the request's language."""
    return {
        "reasons": {
            "ok": _("Valid today"),
            "malformed": _("Not a credential QR code"),
            "bad_signature": _("Forged or altered: the signature does not match"),
            "unknown": _("Not a credential of this expo"),
            "revoked": _("Revoked: this card was replaced or withdrawn"),
            "held": _("Please go to the security desk"),
            "not_an_entry_day": _("Not valid today: not one of its entry days"),
            "no_exit_scans": _("Exits are not scanned for this credential"),
            # The same text as the staff page's (credentials.entry.views.reason_message).
            "already_inside": _("Already entered today at %(time)s · %(gate)s"),
        },
        "labels": {str(value): str(label) for value, label in Label.choices},
        "valid": _("VALID"),
        "not_valid": _("NOT VALID"),
        "number": _("Credential no."),
        "checked_offline": _("Checked offline"),
        "online": _("Online"),
        "offline": _("Offline"),
        # {count} is a number.
        "waiting": _both(
            lambda n: ngettext(
                "{count} scan waiting to upload", "{count} scans waiting to upload", n
            )
        ),
        "nothing_waiting": _("All scans uploaded"),
        # {time} is Beijing time.
        "last_sync": _("Last sync {time}"),
        "never_synced": _("Not synced yet"),
        "syncing": _("Downloading the credential list…"),
        # {count} is a number.
        "credentials_held": _both(
            lambda n: ngettext(
                "{count} credential on this device", "{count} credentials on this device", n
            )
        ),
        "no_bundle": _(
            "No credential list on this device yet: connect to the network once before "
            "checking offline."
        ),
        "enrolling": _("Registering this device…"),
        "enrol_failed": _("This device could not be registered: {error}"),
        "enrolled": _("This device is registered."),
        "revoked": _(
            "This device was revoked by the organiser: it can no longer check credentials. "
            "Ask for a new enrolment code."
        ),
        "camera_failed": _("The camera could not be opened: {error}"),
        "camera_start": _("Camera"),
        "camera_stop": _("Stop camera"),
        "direction_in": pgettext("gate direction", "Entry"),
        "direction_out": pgettext("gate direction", "Exit"),
    }


def _config(request) -> dict:
    return {
        "api": {key: _url(name, fallback) for key, (name, fallback) in API.items()},
        **_app_urls(),
        "ed25519": static("vendor/noble-ed25519/index.js"),
        "language": getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
    }


@require_GET
def gate_app(request):
    """The gate device's page: enrolment, the scanner, the verdict and the sync status."""
    response = render(
        request,
        "credentials/gate_app.html",
        {"gate_texts": _texts(), "gate_config": _config(request), "theme_colour": THEME_COLOUR},
    )
    response.permissions_policy = {"camera": ["self"]}
    return response


@require_GET
def manifest(request):
    """The web app manifest: installed on a phone or tablet, the app opens at /gate/app/."""
    urls = _app_urls()
    icons = [{"src": static(ICON), "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]
    icons += [
        {"src": static(path), "sizes": size, "type": "image/png", "purpose": "any"}
        for path, size in PNG_ICONS
    ]
    data = {
        "name": _("CIIE gate check"),
        "short_name": _("Gate check"),
        "description": _("Checks CIIE credentials at the gate, online and offline."),
        "lang": getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
        "start_url": urls["app"],
        "scope": urls["app"],
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME_COLOUR,
        "icons": icons,
    }
    response = JsonResponse(data, content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


def _static_bytes(path: str) -> bytes:
    """A static file's content, from the source tree or else from the collected files."""
    found = finders.find(path)
    if found:
        with open(found, "rb") as source:
            return source.read()
    try:
        with staticfiles_storage.open(path) as source:
            return source.read()
    except OSError:
        raise Http404(path) from None


def _shell() -> dict:
    """The URLs the service worker keeps, and a version that changes with any of them."""
    urls = _app_urls()
    digest = hashlib.sha256(_static_bytes(SERVICE_WORKER))
    for path in SHELL_STATIC:
        digest.update(path.encode() + b"\0" + _static_bytes(path))
    return {
        "version": digest.hexdigest()[:16],
        "scope": urls["app"],
        "page": urls["app"],
        # Never from the cache: the device API's answers and the holders' photos.
        "network_only": ["/gate/api/", "/gate/photo/"],
        "urls": [urls["app"], urls["manifest"], *(static(path) for path in SHELL_STATIC)],
    }


@functools.lru_cache(maxsize=1)
def _cached_service_worker() -> bytes:
    return _service_worker_source()


def _service_worker_source() -> bytes:
    head = "self.GATE_SHELL = " + json.dumps(_shell()) + ";\n"
    return head.encode() + _static_bytes(SERVICE_WORKER)


@require_GET
def service_worker(request):
    """static/js/gate-sw.js, told what to cache, served under the app's scope, never cached."""
    source = _service_worker_source() if settings.DEBUG else _cached_service_worker()
    response = HttpResponse(source, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = _app_urls()["app"]
    add_never_cache_headers(response)
    return response
