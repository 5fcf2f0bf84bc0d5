"""Consent under the PIPL: the privacy policy (per edition, versioned, edited by organisers in the
admin), its acceptance per unit account at registration and again for each new version, and each
visitor's separate consent to processing the ID document and face photo (art. 29)."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client

from ciie_portal.models import AuditEntry, PrivacyPolicy
from registration.models import ConsentBy, ConsentRecord, Visitor
from registration.services import visitor_save, visitors_submit
from tests.ciie_portal.factories import EditionFactory
from tests.registration.factories import PASSWORD, DeliveryAddressFactory, VisitorFactory
from tests.registration.test_join import colleague_data, join_url
from tests.registration.test_signup import account_data, enter, last_code, request_code
from tests.registration.test_visitors import mainland

ADMIN = "/admin/ciie_portal/privacypolicy/"
ACCEPT = "/privacy/accept/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) ConsentTest/1.0 " + "x" * 400
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


def policy(edition, version, *, published=True, zh=None, en=None) -> PrivacyPolicy:
    return PrivacyPolicy.objects.create(
        edition=edition,
        version=version,
        text_zh=zh or f"第{version}版隐私政策。\n我们如何处理您的个人信息。",
        text_en=en or f"Privacy policy, version {version}.\nHow we process your data.",
        # 16:30 UTC is half past midnight in Beijing, the next day.
        published_at=datetime(2027, 3, version, 16, 30, tzinfo=UTC) if published else None,
    )


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


@pytest.fixture
def admin_client(organiser):
    client = english(Client())
    client.force_login(organiser)
    return client


# --- The policy page ------------------------------------------------------------------------


def test_the_policy_page_shows_the_version_in_force_in_chinese_and_english(client, edition):
    policy(edition, 1)
    policy(edition, 2)
    policy(edition, 3, published=False, zh="草稿", en="Draft")

    page = client.get("/privacy/").content.decode()
    assert "第2版隐私政策。<br>我们如何处理您的个人信息。" in page
    assert "Privacy policy, version 2" not in page
    assert "2027-03-03 00:30" in page  # published 2 March 16:30 UTC, in Beijing time
    assert "草稿" not in page

    page = english(client).get("/privacy/").content.decode()
    assert "Privacy policy, version 2.<br>How we process your data." in page
    assert "第2版" not in page
    assert "version 2 · published 2027-03-03 00:30 (Beijing time)" in page

    # An earlier version by its number; a draft is nobody's to read.
    earlier = client.get(f"/privacy/{edition.number}/v1/").content.decode()
    assert "Privacy policy, version 1." in earlier
    assert client.get(f"/privacy/{edition.number}/v3/").status_code == 404
    assert client.get(f"/privacy/{edition.number}/v9/").status_code == 404


def test_without_a_published_version_the_page_says_so(client, edition):
    policy(edition, 1, published=False)
    response = english(client).get("/privacy/")
    assert response.status_code == 200
    assert 'id="privacy-none"' in response.content.decode()


def test_the_entry_page_and_the_footer_link_to_the_policy(client, edition):
    page = client.get("/accounts/register/").content.decode()
    assert 'id="entry-privacy-link"' in page
    assert page.count('href="/privacy/"') >= 2  # the privacy box and the footer
    assert 'id="footer-privacy"' in client.get("/").content.decode()


# --- The admin ------------------------------------------------------------------------------


def _add(client, edition, zh="第一版", en="First version"):
    return client.post(
        ADMIN + "add/", {"edition": edition.pk, "text_zh": zh, "text_en": en, "_save": "1"}
    )


def test_organisers_add_versions_numbered_in_turn_and_change_drafts(admin_client, edition):
    assert _add(admin_client, edition).status_code == 302
    assert _add(admin_client, edition, zh="第二版", en="Second").status_code == 302
    first, second = PrivacyPolicy.objects.filter(edition=edition).order_by("version")
    assert (first.version, second.version) == (1, 2)
    assert first.published_at is None and second.text_en == "Second"
    # The add form starts from the edition's latest version.
    form = admin_client.get(ADMIN + "add/").content.decode()
    assert "第二版" in form

    response = admin_client.post(
        f"{ADMIN}{first.pk}/change/", {"text_zh": "第一版（改）", "text_en": "First, changed"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.text_zh, first.version, first.edition) == ("第一版（改）", 1, edition)

    audit = AuditEntry.objects.filter(object_id=str(first.pk), content_type__model="privacypolicy")
    assert list(audit.order_by("pk").values_list("action", flat=True)) == [
        "config.add",
        "config.change",
    ]
    assert audit.get(action="config.change").data["changes"]["text_zh"] == [
        "第一版",
        "第一版（改）",
    ]


def test_publishing_sets_the_date_and_a_published_version_is_never_edited(
    admin_client, edition, organiser
):
    draft = policy(edition, 1, published=False, zh="原文", en="Original")
    response = admin_client.post(
        ADMIN, {"action": "publish", "_selected_action": [draft.pk]}, follow=True
    )
    assert "1 version published" in response.content.decode()
    draft.refresh_from_db()
    assert draft.published_at is not None
    entry = AuditEntry.objects.get(object_id=str(draft.pk), action="config.change")
    assert entry.actor == organiser
    assert entry.data["published"] is True
    assert entry.data["changes"]["published_at"][0] is None

    # Shown read-only; a change or a deletion is refused, whatever is posted.
    page = admin_client.get(f"{ADMIN}{draft.pk}/change/").content.decode()
    assert "原文" in page and 'name="text_zh"' not in page
    response = admin_client.post(
        f"{ADMIN}{draft.pk}/change/", {"text_zh": "改过", "text_en": "Changed"}
    )
    assert response.status_code == 403
    assert admin_client.post(f"{ADMIN}{draft.pk}/delete/", {"post": "yes"}).status_code == 403
    draft.refresh_from_db()
    assert (draft.text_zh, draft.text_en) == ("原文", "Original")
    assert not AuditEntry.objects.filter(object_id=str(draft.pk), action="config.delete")

    # A change is a new version.
    assert _add(admin_client, edition, zh="第二版").status_code == 302
    assert PrivacyPolicy.objects.get(edition=edition, version=2).published_at is None


def test_an_older_draft_is_not_published_over_a_newer_version(admin_client, edition):
    old = policy(edition, 1, published=False)
    policy(edition, 2)
    response = admin_client.post(ADMIN, {"action": "publish", "_selected_action": [old.pk]})
    assert response.status_code == 302
    old.refresh_from_db()
    assert old.published_at is None


def test_only_organisers_edit_the_policy(client, secretary, contact, edition):
    client.force_login(secretary)
    assert client.get(ADMIN).status_code == 403
    assert _add(client, edition).status_code == 403
    client.force_login(contact)
    assert client.get(ADMIN).status_code == 302  # to the admin's sign-in
    assert not PrivacyPolicy.objects.exists()


# --- Acceptance per unit account ------------------------------------------------------------


def _sign_up(client, guangzhou):
    enter(client)
    request_code(client)
    return client.post(
        "/accounts/register/account/",
        account_data(guangzhou, sms_code=last_code()),
        HTTP_USER_AGENT=BROWSER,
        REMOTE_ADDR=ADDRESS,
    )


def test_registration_records_the_accepted_version_with_address_and_browser(
    client, edition, guangzhou
):
    in_force = policy(edition, 1)
    response = _sign_up(client, guangzhou)
    assert response.status_code == 302
    record = ConsentRecord.objects.get()
    assert record.user.username == account_data(guangzhou)["uscc"]
    assert (record.policy, record.kind) == (in_force, ConsentRecord.Kind.POLICY)
    assert record.ip_address == ADDRESS
    assert record.user_agent == BROWSER[:300] and len(record.user_agent) == 300
    assert record.accepted_at is not None
    # Accepted already: the pages open without asking again.
    assert client.get("/accounts/").status_code == 200


def test_without_a_published_policy_nothing_is_recorded_or_asked(client, edition, guangzhou):
    policy(edition, 1, published=False)
    assert _sign_up(client, guangzhou).status_code == 302
    assert not ConsentRecord.objects.exists()
    assert client.get("/accounts/").status_code == 200


def test_a_new_version_is_asked_at_the_next_sign_in_and_recorded(client, edition, unit, contact):
    first = policy(edition, 1)
    ConsentRecord.objects.create(user=contact, policy=first, accepted_at=first.published_at)
    second = policy(edition, 2)

    response = client.post("/accounts/login/", {"username": contact.username, "password": PASSWORD})
    assert response.status_code == 302
    response = client.get("/accounts/visitors/")
    assert response.status_code == 302
    assert response["Location"] == ACCEPT + "?next=%2Faccounts%2Fvisitors%2F"
    # Every page of the unit waits; the policy itself and signing out do not.
    assert client.get("/accounts/orders/")["Location"].startswith(ACCEPT)
    assert client.get("/privacy/").status_code == 200

    page = english(client).get(response["Location"]).content.decode()
    assert "Privacy policy, version 2." in page
    assert 'name="accept"' in page and 'for="id_accept"' in page

    refused = client.post(ACCEPT, {"policy": second.pk, "next": "/accounts/visitors/"})
    assert refused.status_code == 200
    assert "Please read and accept the privacy policy." in refused.content.decode()
    assert ConsentRecord.objects.filter(policy=second).count() == 0

    accepted = client.post(
        ACCEPT,
        {"policy": second.pk, "accept": "on", "next": "/accounts/visitors/"},
        HTTP_USER_AGENT="Browser/2",
        REMOTE_ADDR=ADDRESS,
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == "/accounts/visitors/"
    record = ConsentRecord.objects.get(policy=second)
    assert (record.user, record.ip_address, record.user_agent) == (contact, ADDRESS, "Browser/2")
    assert ConsentRecord.objects.filter(user=contact).count() == 2

    assert client.get("/accounts/visitors/").status_code == 200
    assert client.get(ACCEPT)["Location"] == "/accounts/"  # nothing left to accept


def test_the_accept_page_goes_on_only_to_this_site(signed_in, edition, unit, contact):
    in_force = policy(edition, 1)
    response = signed_in.post(
        ACCEPT, {"policy": in_force.pk, "accept": "on", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/accounts/"
    assert ConsentRecord.objects.get().user == contact


def test_a_version_published_while_the_page_was_open_is_shown_first(signed_in, edition, unit):
    first = policy(edition, 1)
    policy(edition, 2)
    response = english(signed_in).post(ACCEPT, {"policy": first.pk, "accept": "on"})
    assert response.status_code == 200
    assert "Privacy policy, version 2." in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_the_accept_page_needs_a_login(client, edition):
    policy(edition, 1)
    response = client.get(ACCEPT)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_and_accounts_without_a_unit_are_not_asked(
    client, edition, organiser, secretary, other_unit
):
    policy(edition, 1)
    client.force_login(organiser)
    assert client.get("/admin/").status_code == 200
    client.force_login(secretary)
    assert not client.get("/staff/").get("Location", "").startswith(ACCEPT)
    # A unit of another edition only: nothing of this edition to accept.
    other_unit.edition = EditionFactory(number=9)
    other_unit.save()
    client.force_login(other_unit.account)
    assert client.get("/accounts/").status_code == 200


# --- Sensitive personal information (PIPL art. 29) ------------------------------------------


@pytest.fixture
def address(unit):
    return DeliveryAddressFactory(unit=unit, is_default=True)


def test_a_visitor_is_submitted_only_with_the_sensitive_consent(signed_in, unit, edition, address):
    data = mainland(edition, address, submit="1", pledge="on")
    response = signed_in.post("/accounts/visitors/add/mainland/", data)
    assert response.status_code == 200
    assert "sensitive_consent" in response.context["form"].errors
    assert not Visitor.objects.exists()

    data = mainland(edition, address, submit="1", pledge="on", sensitive_consent="on")
    response = signed_in.post("/accounts/visitors/add/mainland/", data)
    assert response.status_code == 302, response.context["form"].errors
    visitor = Visitor.objects.get()
    assert visitor.status == Visitor.Status.SUBMITTED
    assert visitor.sensitive_consent_at is not None
    assert visitor.sensitive_consent_by == ConsentBy.CONTACT
    assert AuditEntry.objects.get(
        object_id=str(visitor.pk), action="visitor.sensitive_consent"
    ).data == {"by": "contact"}


def test_the_batch_submission_carries_the_consent(signed_in, unit, edition, address):
    data = mainland(edition, address, save="1")
    assert signed_in.post("/accounts/visitors/add/mainland/", data).status_code == 302
    visitor = Visitor.objects.get()
    assert visitor.sensitive_consent_at is None
    page = signed_in.get("/accounts/visitors/").content.decode()
    assert 'name="sensitive_consent"' in page and 'for="batch-sensitive-consent"' in page

    response = english(signed_in).post(
        "/accounts/visitors/submit/", {"visitor": [visitor.pk], "pledge": "1"}, follow=True
    )
    assert "consent to processing the ID document and face photo is missing" in (
        response.content.decode()
    )
    visitor.refresh_from_db()
    assert visitor.status == Visitor.Status.SAVED

    signed_in.post(
        "/accounts/visitors/submit/",
        {"visitor": [visitor.pk], "pledge": "1", "sensitive_consent": "1"},
    )
    visitor.refresh_from_db()
    assert visitor.status == Visitor.Status.SUBMITTED
    assert visitor.sensitive_consent_by == ConsentBy.CONTACT


def test_the_service_refuses_a_visitor_without_the_consent(unit, edition, address):
    visitor = VisitorFactory(
        unit=unit,
        sensitive_consent_at=None,
        sensitive_consent_by="",
        photo="visitor-photos/x.jpg",
        entry_period=edition.entry_periods.first(),
        pickup="delegation",
    )
    with pytest.raises(ValidationError) as refusal:
        visitors_submit(unit=unit, visitor_ids=[visitor.pk], actor=unit.account)
    assert refusal.value.code == "sensitive_consent"
    with pytest.raises(ValidationError):
        visitor_save(
            unit=unit,
            actor=unit.account,
            visitor=visitor,
            values={},
            id_type=visitor.id_type,
            id_number=visitor.id_number,
            submit=True,
        )
    visitor.refresh_from_db()
    assert visitor.status == Visitor.Status.SAVED
    # Another unit's contact cannot give it for this unit's visitor.
    other = VisitorFactory(sensitive_consent_at=None, sensitive_consent_by="")
    assert (
        visitors_submit(
            unit=unit, visitor_ids=[other.pk], actor=unit.account, sensitive_consent=True
        )
        == []
    )
    other.refresh_from_db()
    assert other.sensitive_consent_at is None


def test_a_colleague_joining_by_link_gives_the_consent_in_person(signed_in, unit, edition):
    colleague = english(Client())
    url = join_url(unit) + "?type=mainland"
    data = colleague_data(unit)
    del data["sensitive_consent"]
    response = colleague.post(url, data)
    assert response.status_code == 200
    assert "Tick your consent to processing your ID document and face photo" in (
        response.content.decode()
    )
    assert not Visitor.objects.exists()

    response = colleague.post(url, colleague_data(unit), follow=True)
    assert 'id="join-done"' in response.content.decode()
    visitor = Visitor.objects.get()
    assert visitor.sensitive_consent_by == ConsentBy.COLLEAGUE
    given_at = visitor.sensitive_consent_at
    assert given_at is not None

    # Approved, then submitted by the contact (who ticks it too): the colleague's stays.
    signed_in.post("/accounts/join/approve/", {"visitor": [visitor.pk]})
    page = signed_in.get(f"/accounts/visitors/{visitor.pk}/").content.decode()
    assert 'name="sensitive_consent"' in page and "disabled" in page
    signed_in.post(
        "/accounts/visitors/submit/",
        {"visitor": [visitor.pk], "pledge": "1", "sensitive_consent": "1"},
    )
    visitor.refresh_from_db()
    assert visitor.status == Visitor.Status.SUBMITTED
    assert (visitor.sensitive_consent_by, visitor.sensitive_consent_at) == (
        ConsentBy.COLLEAGUE,
        given_at,
    )


# --- Organisers read the records -------------------------------------------------------------


def test_organisers_list_consents_and_see_each_visitors_consent(
    admin_client, secretary, edition, unit, contact, address
):
    version = policy(edition, 1)
    ConsentRecord.objects.create(
        user=contact,
        policy=version,
        accepted_at=datetime(2027, 3, 5, 16, 30, tzinfo=UTC),
        ip_address=ADDRESS,
        user_agent="ListedBrowser/1.0",
    )
    page = admin_client.get("/admin/registration/consentrecord/").content.decode()
    assert "2027-03-06 00:30:00" in page  # Beijing time
    assert ADDRESS in page and contact.username in page
    record = ConsentRecord.objects.get()
    detail = admin_client.get(f"/admin/registration/consentrecord/{record.pk}/change/")
    assert "ListedBrowser/1.0" in detail.content.decode()
    # Read-only: a consent is never changed or deleted, even by an organiser.
    admin_client.post(
        f"/admin/registration/consentrecord/{record.pk}/change/", {"user_agent": "forged"}
    )
    assert (
        admin_client.post(
            f"/admin/registration/consentrecord/{record.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ConsentRecord.objects.get().user_agent == "ListedBrowser/1.0"

    # The visitor's page says when and by whom the consent to the ID document was given.
    visitor = VisitorFactory(unit=unit, address=address)
    page = admin_client.get(f"/admin/registration/visitor/{visitor.pk}/change/").content.decode()
    assert "consent to sensitive personal information" in page.lower()
    assert "the unit contact" in page

    # A secretary reads neither the list nor a record.
    other = english(Client())
    other.force_login(secretary)
    assert other.get("/admin/registration/consentrecord/").status_code == 403
    assert other.get(f"/admin/registration/consentrecord/{record.pk}/change/").status_code == 403
