"""Whole public pages kept in the shared cache for anonymous visitors: the landing page and the
sign-in page, the two pages every visitor of the registration rush opens first.

Such a page is the same for every anonymous visitor in a language except for a few values of
the request itself: the CSRF token, the CSP nonce (when the page uses one), the request's full
path (the language switch sends the visitor back to it) and the view's own such values (the
sign-in page's ``next``). The page is rendered once by the real view with a random mark in place
of each of these, kept under the page's name and language, and each request gets a copy with
its own values put in: the token from ``get_token(request)`` (so the CSRF cookie is set exactly
as when the page is rendered), the nonce from ``request.csp_nonce`` (so the CSP header carries
it as before), the others escaped as the template escapes them. Only the rendering is saved:
the view, its decorators and every middleware still run, so the headers (Vary,
Content-Language, Cache-Control, CSP, cookies) are those of a rendered page.

A copy is kept together with the generations of the ``read_cache`` topics it was rendered from
("edition": the current edition and its entry periods; "delegations": the directory) and the
release (templates, translations, static files' manifest): a saved or deleted row of a topic's
models, or a new release, makes the next request render the page again. It is read in one round
trip to the cache (the generations and the page together), and expires after
``read_cache.TIMEOUT`` anyway.

Never from or into the cache: anything but a GET, a signed-in user (whatever the page shows
them), a request with messages waiting to be shown, and whatever the view renders itself (a
search on the landing page, the sign-in form with errors after a POST).
"""

import contextlib
import hashlib
import importlib.metadata
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.utils.translation import get_language

from . import read_cache

#: The per-request values every page has (the view may add its own).
CSRF, NONCE, FULL_PATH = "csrf", "nonce", "full_path"

_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]*)"')

_release: str | None = None


def _release_stamp() -> str:
    """What a page's HTML is made of besides the data: the project's templates and compiled
    translations, the static files' manifest (hashed file names) and the versions of the
    packages that render forms. Computed once per process; the same in every process of a
    release, different after a deploy that changes any of them."""
    global _release
    if _release is None:
        digest = hashlib.sha256()
        folders = [Path(d) for t in settings.TEMPLATES for d in t.get("DIRS", [])]
        folders += [Path(p) for p in settings.LOCALE_PATHS]
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix in (".html", ".txt", ".mo"):
                    digest.update(str(path.relative_to(folder)).encode())
                    digest.update(path.read_bytes())
        from django.contrib.staticfiles.storage import staticfiles_storage

        digest.update(str(getattr(staticfiles_storage, "manifest_hash", "")).encode())
        for package in ("django", "django-crispy-forms", "crispy-bootstrap5"):
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                digest.update(f"{package}={importlib.metadata.version(package)}".encode())
        _release = digest.hexdigest()[:16]
    return _release


def _pending_messages(request) -> bool:
    """Messages waiting to be shown (read without marking them shown)."""
    return len(messages.get_messages(request)) > 0


def keepable(request) -> bool:
    """May this request be answered with the kept page (and its page be kept)?"""
    return (
        request.method == "GET"
        and not request.user.is_authenticated
        and not _pending_messages(request)
    )


def serve(request, name: str, *, topics: tuple[str, ...], render, values=None):
    """The page ``name`` for ``request``: the kept copy with this request's values put in,
    else ``render(marks)`` (the real view's response; ``marks`` maps each of the view's own
    ``values`` to the text to render in its place, or is None when nothing is kept), kept.

    ``values`` maps a name to a callable giving that value for the request, already as the
    template would show it (escaped)."""
    values = values or {}
    if not keepable(request):
        return render(None)
    key = f"page-cache:{name}:{get_language()}"
    generation_keys = read_cache.generation_keys(*topics)
    found = cache.get_many([key, *generation_keys])
    generations = []
    for topic, generation_key in zip(topics, generation_keys, strict=True):
        generation = found.get(generation_key)
        if generation is None:
            generation = read_cache.generation(topic)
        generations.append(generation)
    stamp = (_release_stamp(), *generations)
    kept = found.get(key)
    if kept is not None and kept[0] == stamp:
        _, headers, marks, body = kept
        response = HttpResponse(_filled(request, body, marks, values))
        for header, value in headers:
            response[header] = value
        return response

    marks = {mark: secrets.token_hex(16) for mark in (CSRF, NONCE, FULL_PATH, *values)}
    full_path = marks[FULL_PATH]
    # The template's {{ request.get_full_path }} renders the mark (an instance attribute
    # hides the method for this rendering only).
    request.get_full_path = lambda force_append_slash=False: full_path
    try:
        response = _rendered(render({name: marks[name] for name in values}))
    finally:
        del request.get_full_path
    body = response.content
    # The one token the rendering put in (the context's token is evaluated once).
    tokens = set(_CSRF_INPUT.findall(body))
    if len(tokens) == 1:
        body = body.replace(tokens.pop(), marks[CSRF].encode())
    nonce = request.__dict__.get("_csp_nonce")
    if isinstance(nonce, str) and nonce:
        body = body.replace(nonce.encode(), marks[NONCE].encode())
    if response.status_code == 200 and not tokens and not response.cookies:
        headers = [
            (header, value)
            for header, value in response.headers.items()
            if header.lower() != "content-length"
        ]
        cache.set(key, (stamp, headers, marks, body), timeout=read_cache.TIMEOUT)
    response.content = _filled(request, body, marks, values, nonce=nonce)
    return response


def _rendered(response):
    """A TemplateResponse rendered now (its content is needed here)."""
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    return response


def _filled(request, body: bytes, marks: dict, values: dict, nonce=None) -> bytes:
    """``body`` with this request's values in place of the marks."""
    mark = marks[CSRF].encode()
    if mark in body:
        body = body.replace(mark, get_token(request).encode())
    mark = marks[NONCE].encode()
    if mark in body:
        body = body.replace(mark, str(nonce or request.csp_nonce).encode())
    mark = marks[FULL_PATH].encode()
    if mark in body:
        body = body.replace(mark, escape(request.get_full_path()).encode())
    for name, value in values.items():
        mark = marks[name].encode()
        if mark in body:
            body = body.replace(mark, str(value()).encode())
    return body
