"""The landing page and the sign-in page kept whole in the shared cache for anonymous visitors
(``ciie_portal.page_cache``), through the real views: a kept copy is the rendered page but for
the request's own values (CSRF token, path, ``next``), its token signs in, a change shows at
once, and nothing personal is ever served from or kept in the cache."""

import re

import pytest
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpResponse
from django.test import Client, RequestFactory

from ciie_portal import page_cache
from delegations.models import DelegationContact
from tests.delegations.factories import DelegationFactory
from tests.registration.factories import PASSWORD

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')

#: Headers a cache must not change (Date and the cookie's value aside).
HEADERS = (
    "Content-Type",
    "Content-Language",
    "Vary",
    "Cache-Control",
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "X-Content-Type-Options",
    "Cross-Origin-Opener-Policy",
)


def _get(path, language="zh-hans", client=None):
    client = client or Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client.get(path)


def _page(response) -> str:
    """The page without its CSRF token (each answer has its own)."""
    return TOKEN.sub('name="csrfmiddlewaretoken" value=""', response.content.decode())


def _headers(response) -> dict:
    cookie = response.cookies.get(settings.CSRF_COOKIE_NAME)
    return {
        **{header: response.get(header) for header in HEADERS},
        "Expires": response.has_header("Expires"),  # the time of the answer
        "csrf cookie": cookie and {k: v for k, v in cookie.items() if k != "expires"},
        "cookies": sorted(response.cookies),
        "status": response.status_code,
    }


def _rendered(path, language, monkeypatch):
    """The page as the view renders it without the cache."""
    with monkeypatch.context() as patch:
        patch.setattr(page_cache, "keepable", lambda request: False)
        return _get(path, language)


def _served_from_cache(response) -> bool:
    return response.status_code == 200 and not response.templates


PATHS = [
    "/",
    "/?utm_source=mail&x=%22%3Cb%3E",
    "/accounts/login/",
    "/accounts/login/?next=/accounts/visitors/",
    "/accounts/login/?next=/accounts/%3Fa%3D1%26b%3D%22x%22",
    "/accounts/login/?next=https://evil.example/",
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("path", PATHS)
def test_the_kept_page_is_the_rendered_page_but_for_the_token(
    path, language, edition, guangzhou, monkeypatch
):
    rendered = _rendered(path, language, monkeypatch)
    first = _get(path, language)  # renders the page and keeps it
    kept = _get(path, language)
    assert not _served_from_cache(rendered) and not _served_from_cache(first)
    assert _served_from_cache(kept)
    assert _page(kept) == _page(first) == _page(rendered)
    assert _headers(kept) == _headers(first) == _headers(rendered)
    # Each answer has a token of its own, for the cookie it sets.
    tokens = {TOKEN.search(r.content.decode()).group(1) for r in (rendered, first, kept)}
    assert len(tokens) == 3
    assert "page-cache" not in kept.content.decode()


def test_a_kept_page_reads_nothing_from_the_database(
    client, edition, guangzhou, django_assert_num_queries
):
    for path in ("/", "/accounts/login/"):
        _get(path)
        with django_assert_num_queries(0):
            assert _served_from_cache(_get(path))


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/login/?next=/accounts/"])
def test_the_token_of_a_kept_sign_in_page_signs_in(path, unit, monkeypatch):
    _get(path)  # another visitor's request kept the page
    browser = Client(enforce_csrf_checks=True)
    page = _get(path, client=browser)
    assert _served_from_cache(page)
    assert settings.CSRF_COOKIE_NAME in page.cookies
    token = TOKEN.search(page.content.decode()).group(1)
    fields = {"username": unit.account.username, "password": PASSWORD}
    refused = browser.post("/accounts/login/", fields)
    assert refused.status_code == 403  # no token: CSRF still checked
    signed_in = browser.post(
        "/accounts/login/", {**fields, "csrfmiddlewaretoken": token, "next": "/accounts/"}
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/accounts/"
    assert "_auth_user_id" in browser.session


def test_the_language_switch_of_a_kept_page_works(edition):
    _get("/")
    browser = Client(enforce_csrf_checks=True)
    page = _get("/?from=mail", client=browser)
    assert _served_from_cache(page)
    assert '<input name="next" type="hidden" value="/?from=mail">' in page.content.decode()
    token = TOKEN.search(page.content.decode()).group(1)
    switched = browser.post(
        "/i18n/setlang/", {"language": "en", "next": "/?from=mail", "csrfmiddlewaretoken": token}
    )
    assert switched.status_code == 302
    english = browser.get("/")
    assert english["Content-Language"] == "en"


def test_next_is_kept_on_the_sign_in_page(edition):
    _get("/accounts/login/")
    page = _get("/accounts/login/?next=/accounts/visitors/")
    assert _served_from_cache(page)
    content = page.content.decode()
    assert '<input type="hidden" name="next" value="/accounts/visitors/">' in content
    assert 'value="/accounts/login/?next=/accounts/visitors/"' in content  # language switch
    # Another site is never a place to go after signing in.
    outside = _get("/accounts/login/?next=https://evil.example/").content.decode()
    assert '<input type="hidden" name="next" value="">' in outside


def test_a_changed_delegation_or_contact_shows_at_once(edition, guangzhou):
    _get("/")
    assert _served_from_cache(_get("/"))
    guangzhou.name = "广州交易分团（新）"
    guangzhou.save()
    assert "广州交易分团（新）" in _get("/").content.decode()
    DelegationFactory(name="上海交易团")
    assert "上海交易团" in _get("/").content.decode()
    contact = DelegationContact.objects.filter(delegation=guangzhou).first()
    if contact is not None:
        contact.persons = "王新联"
        contact.save()
        assert "王新联" in _get("/").content.decode()


def test_a_changed_edition_shows_at_once_on_both_pages(edition):
    for path in ("/", "/accounts/login/"):
        _get(path)
        assert _served_from_cache(_get(path))
    edition.name = "第十届进博会（改）"
    edition.save()
    for path in ("/", "/accounts/login/"):
        assert "第十届进博会（改）" in _get(path).content.decode()
    period = edition.entry_periods.get()
    period.name = "全部六天"
    period.save()
    assert "全部六天" in _get("/").content.decode()


def test_each_language_has_its_own_copy(edition):
    chinese, english = _get("/"), _get("/", "en")
    assert chinese["Content-Language"] == "zh-hans" and english["Content-Language"] == "en"
    kept_chinese, kept_english = _get("/"), _get("/", "en")
    assert _served_from_cache(kept_chinese) and _served_from_cache(kept_english)
    assert _page(kept_chinese) == _page(chinese) != _page(kept_english) == _page(english)
    assert 'lang="en"' in english.content.decode()


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_a_signed_in_user_is_never_served_nor_keeps_a_copy(path, client, contact, edition):
    anonymous = _get(path)
    client.force_login(contact)
    mine = _get(path, client=client)
    assert not _served_from_cache(mine)
    assert not _served_from_cache(_get(path, client=client))
    # What the signed-in user was shown was not kept for anyone else.
    again = _get(path)
    assert _served_from_cache(again)
    assert _page(again) == _page(anonymous)


def _with_message(client, text):
    storage = CookieStorage(RequestFactory().get("/"))
    response = HttpResponse()
    storage._store([Message(constants.SUCCESS, text)], response)
    client.cookies[storage.cookie_name] = response.cookies[storage.cookie_name].value


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_a_page_with_a_message_is_never_served_nor_kept(path, edition):
    _get(path)  # kept
    browser = Client()
    _with_message(browser, "已保存：测试消息")
    shown = _get(path, client=browser)
    assert not _served_from_cache(shown)
    assert "已保存：测试消息" in shown.content.decode()
    # Shown once; then the kept page, which never had it.
    after = _get(path, client=browser)
    assert _served_from_cache(after)
    assert "已保存：测试消息" not in after.content.decode()
    assert "已保存：测试消息" not in _get(path).content.decode()


def test_a_failed_sign_in_is_rendered_and_never_kept(unit):
    _get("/accounts/login/")
    browser = Client()
    failed = browser.post(
        "/accounts/login/", {"username": unit.account.username, "password": "wrong"}
    )
    assert failed.status_code == 200
    assert failed.templates  # rendered, not the kept page
    errors = re.findall(r'class="[^"]*alert[^"]*"', failed.content.decode())
    assert errors
    kept = _get("/accounts/login/", client=browser)
    assert _served_from_cache(kept)
    assert not re.findall(r'class="[^"]*alert[^"]*"', kept.content.decode())
    assert unit.account.username not in kept.content.decode()


def test_a_search_is_rendered_each_time(edition, guangzhou):
    _get("/")
    for _ in range(2):
        found = _get("/?q=guangzhou")
        assert not _served_from_cache(found)
        assert 'value="guangzhou"' in found.content.decode()
    assert 'value="guangzhou"' not in _get("/").content.decode()


def test_a_new_release_renders_the_page_again(edition, monkeypatch):
    _get("/")
    assert _served_from_cache(_get("/"))
    monkeypatch.setattr(page_cache, "_release", "another release")
    assert not _served_from_cache(_get("/"))
    assert _served_from_cache(_get("/"))


def test_a_nonce_in_a_kept_page_is_each_request_s_own_and_in_its_header(edition):
    """No public page uses a CSP nonce today; one that does gets this request's nonce in the
    page and in the Content-Security-Policy header, as when rendered."""

    def view(request):
        return page_cache.serve(
            request,
            "nonce-test",
            topics=("edition",),
            render=lambda marks: HttpResponse(f'<script nonce="{request.csp_nonce}"></script>'),
        )

    nonces = []
    for _ in range(3):
        request = RequestFactory().get("/nonce-test/")
        request.user = AnonymousUser()
        response = CSPMiddleware(view)(request)
        nonce = re.search(r'nonce="([^"]+)"', response.content.decode()).group(1)
        assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]
        nonces.append(nonce)
    assert len(set(nonces)) == 3
