"""复制为新一届: the next edition set up from an earlier one — settings and dates shifted, entry
periods and fees, quotas, new codes, entry rules, side events and the policy as drafts — and
nothing personal; the preview equals the result; a second click creates nothing; organisers
only, through the real admin pages."""

import re
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from ciie_portal.cloning import (
    EDITION_NOT_COPIED,
    cloners,
    edition_clone,
    edition_clone_preview,
    edition_copied_fields,
)
from ciie_portal.models import AuditEntry, Edition, EntryPeriod, PrivacyPolicy, SideEvent
from ciie_portal.timefmt import local_text
from credentials.models import CredentialOrder, EntryRule
from delegations.models import DelegationQuota
from registration.models import InvitationCode, RecommendationCode, Unit, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.invoicing.factories import paid_order
from tests.registration.factories import ApprovedUnitFactory, VisitorFactory
from tests.test_csp import InlineCode

pytestmark = pytest.mark.django_db

# Every model with a foreign key to Edition, and why it is not copied. The others are copied
# by a registered cloner (``Cloner.models``). A new model with an Edition foreign key fails
# test_it_has_a_decision_for_every_model_with_an_edition until it is added to one or the other.
NOT_COPIED = {
    "ciie_portal.Notice": "a message sent to a person",
    "ciie_portal.ShredJob": "the record of an edition's shred",
    "registration.Unit": "personal: a unit and its account",
    "registration.Visitor": "personal",
    "registration.Exhibitor": "each edition has its own exhibitors, imported anew",
    "credentials.PointsEntry": "the points ledger: a record of the edition",
    "credentials.CouponBatch": "coupon offers: their codes are single-use, loaded anew",
    "delegations.GroupMail": "the record of an email sent",
    "credentials.GateDevice": "a device's own keys; devices are enrolled anew",
    "credentials.Scan": "personal: a record of a person at the gate",
    "credentials.SecurityHold": "personal",
    "credentials.IssuanceCounter": "numbering starts anew each edition",
    "credentials.Parcel": "personal: deliveries",
    "credentials.PickupList": "personal: pick-ups",
    "credentials.CredentialOrder": "financial record",
    "credentials.ProductionJob": "record of production",
    "credentials.CredentialCounter": "numbering starts anew each edition",
    "credentials.PrintBatch": "record of production",
    "credentials.Credential": "personal",
    "credentials.ReviewBatch": "personal: the security review",
    "invoicing.Invoice": "financial record",
    "invoicing.InvoiceCounter": "numbering starts anew each edition",
}


def _edition_fk_models() -> set[str]:
    return {
        model._meta.label
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model is Edition
    }


def test_it_has_a_decision_for_every_model_with_an_edition():
    copied = {label for cloner in cloners() for label in cloner.models}
    assert not copied & set(NOT_COPIED)
    assert _edition_fk_models() == copied | set(NOT_COPIED)


def test_it_copies_every_edition_field_but_identity_and_state():
    copied = {f.name for f in edition_copied_fields()}
    stored = {f.name for f in Edition._meta.concrete_fields}
    assert copied | EDITION_NOT_COPIED == stored
    assert {"transfer_deadline", "reuse_fee_percent", "order_payment_window"} <= copied
    assert not {"is_current", "shredded_at", "number"} & copied


@pytest.fixture
def source(edition, guangzhou, other_delegation):
    edition.reuse_fee_percent = Decimal("40.00")
    edition.default_vip_quota = 77
    edition.auto_approve_categories = ["government"]
    edition.review_days_foreign = 21
    edition.save()
    EntryPeriodFactory(
        edition=edition,
        name="单日",
        name_en="One day",
        first_day=edition.starts_on,
        last_day=edition.starts_on,
        fee=Decimal("80.00"),
        position=1,
    )
    DelegationQuota.objects.create(
        edition=edition, delegation=guangzhou, vip_limit=12, staff_limit=None
    )
    InvitationCode.objects.create(edition=edition, code="GZ2027", delegation=guangzhou)
    InvitationCode.objects.create(
        edition=edition, code="ZJ2027", delegation=other_delegation, is_active=False
    )
    RecommendationCode.objects.create(edition=edition, code="Q2021537", partner="上海交易团")
    EntryRule.objects.create(edition=edition, label="", everyone_out_at=time(21, 0))
    SideEvent.objects.create(
        edition=edition,
        name="进口贸易论坛",
        starts_at=timezone.now() + timedelta(days=40),
        organiser="商务部",
        contact="王先生 13911112222",
        open_to_visitors=True,
    )
    PrivacyPolicy.objects.create(
        edition=edition, version=1, text_zh="旧", text_en="old", published_at=timezone.now()
    )
    PrivacyPolicy.objects.create(
        edition=edition,
        version=2,
        text_zh="隐私政策二",
        text_en="Policy 2",
        published_at=timezone.now(),
    )
    PrivacyPolicy.objects.create(edition=edition, version=3, text_zh="草稿", text_en="draft")
    # People and money, none of which may reach the new edition.
    unit = ApprovedUnitFactory(edition=edition, delegation=guangzhou)
    VisitorFactory(unit=unit, edition=edition)
    paid_order(unit)
    return edition


def _clone(source, actor, **overrides):
    values = {"number": 11, "name": "第11届", "name_en": "11th", "offset": 364, **overrides}
    return edition_clone(source=source, actor=actor, **values)


def test_it_copies_settings_with_dates_shifted(source, organiser):
    result = _clone(source, organiser)
    new = Edition.objects.get(number=11)
    assert result.edition == new
    offset = timedelta(days=364)
    assert (new.name, new.name_en, new.is_current) == ("第11届", "11th", False)
    assert new.starts_on == source.starts_on + offset
    assert new.ends_on == source.ends_on + offset
    assert new.starts_on.weekday() == source.starts_on.weekday()
    assert new.registration_opens_at == source.registration_opens_at + offset
    assert new.registration_closes_at == source.registration_closes_at + offset
    assert new.transfer_deadline == source.transfer_deadline + offset
    assert new.online_payment_deadline == source.online_payment_deadline + offset
    assert new.order_payment_window == source.order_payment_window
    assert new.reuse_fee_percent == Decimal("40.00")
    assert new.default_vip_quota == 77
    assert new.auto_approve_categories == ["government"]
    assert new.review_days_foreign == 21
    assert new.shredded_at is None
    assert Edition.objects.get(is_current=True) == source

    periods = list(EntryPeriod.objects.filter(edition=new).order_by("position"))
    old_periods = list(EntryPeriod.objects.filter(edition=source).order_by("position"))
    assert [(p.name, p.first_day, p.last_day, p.fee) for p in periods] == [
        (p.name, p.first_day + offset, p.last_day + offset, p.fee) for p in old_periods
    ]
    assert periods[1].name_en == "One day" and periods[1].fee == Decimal("80.00")

    quota = DelegationQuota.objects.get(edition=new)
    assert (quota.delegation.code, quota.vip_limit, quota.staff_limit) == ("gd-guangzhou", 12, None)
    rule = EntryRule.objects.get(edition=new)
    assert (rule.label, rule.everyone_out_at) == ("", time(21, 0))

    event = SideEvent.objects.get(edition=new)
    old_event = SideEvent.objects.get(edition=source)
    assert event.starts_at == old_event.starts_at + offset
    assert (event.name, event.open_to_visitors, event.contact) == ("进口贸易论坛", False, "")

    policy = PrivacyPolicy.objects.get(edition=new)
    assert (policy.version, policy.text_zh, policy.published_at) == (1, "隐私政策二", None)


def test_codes_are_new(source, organiser):
    _clone(source, organiser)
    new = Edition.objects.get(number=11)
    old_codes = set(InvitationCode.objects.filter(edition=source).values_list("code", flat=True))
    old_codes |= set(
        RecommendationCode.objects.filter(edition=source).values_list("code", flat=True)
    )
    invitations = {c.delegation.code: c for c in InvitationCode.objects.filter(edition=new)}
    assert set(invitations) == {"gd-guangzhou", "zj"}
    assert invitations["zj"].is_active is False
    recommendation = RecommendationCode.objects.get(edition=new)
    assert recommendation.partner == "上海交易团"
    new_codes = {c.code for c in invitations.values()} | {recommendation.code}
    assert len(new_codes) == 3 and not new_codes & old_codes
    # The old codes still belong to the old edition only.
    assert InvitationCode.objects.filter(edition=source, code="GZ2027").exists()


def test_nothing_personal_is_copied(source, organiser):
    assert Unit.objects.filter(edition=source).exists()
    assert Visitor.objects.filter(edition=source).exists()
    assert CredentialOrder.objects.filter(edition=source).exists()
    _clone(source, organiser)
    new = Edition.objects.get(number=11)
    for label in NOT_COPIED:
        model = apps.get_model(label)
        assert not model._base_manager.filter(edition=new).exists(), label


def test_it_is_audited_on_the_new_edition(source, organiser):
    result = _clone(source, organiser)
    entry = AuditEntry.objects.get(action="edition.cloned")
    assert entry.object_id == str(result.edition.pk)
    assert entry.actor == organiser
    assert entry.data["source"] == source.pk and entry.data["offset_days"] == 364
    assert entry.data["counts"] == {
        "ciie_portal.entry_periods": 2,
        "ciie_portal.side_events": 1,
        "ciie_portal.privacy_policy": 1,
        "registration.invitation_codes": 2,
        "registration.recommendation_codes": 1,
        "delegations.quotas": 1,
        "credentials.entry_rules": 1,
        "credentials.points_rules": 0,
        "delegations.surveys": 0,
        "invoicing.options": 0,
    }


def test_the_preview_equals_the_result_and_creates_nothing(source, organiser):
    editions = Edition.objects.count()
    preview = edition_clone_preview(
        source=source, actor=organiser, number=11, name="第11届", name_en="11th", offset=364
    )
    assert Edition.objects.count() == editions
    assert not AuditEntry.objects.filter(action="edition.cloned").exists()
    assert not EntryPeriod.objects.filter(edition__number=11).exists()
    result = _clone(source, organiser)
    assert preview.fields == result.fields
    assert [(p.name, p.lines) for p in preview.parts] == [(p.name, p.lines) for p in result.parts]


def test_a_number_that_exists_is_refused(source, organiser):
    _clone(source, organiser)
    with pytest.raises(ValidationError) as error:
        _clone(source, organiser)
    assert "number" in error.value.message_dict
    assert Edition.objects.filter(number=11).count() == 1


# --- Through the admin ---------------------------------------------------------------------


def _url(edition):
    return reverse("admin:ciie_portal_edition_clone", args=[edition.pk])


FORM = {"number": "11", "name": "第11届", "name_en": "11th", "offset": "364"}


def test_an_organiser_clones_through_form_preview_and_confirm(client, source, organiser):
    client.force_login(organiser)
    change = client.get(reverse("admin:ciie_portal_edition_change", args=[source.pk]))
    assert _url(source) in change.content.decode()

    form = client.get(_url(source))
    assert form.status_code == 200
    assert form.context["form"].initial["number"] == 11
    assert form.context["form"].initial["offset"] == 364

    preview = client.post(_url(source), {**FORM, "preview": "1"})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "第11届" in page and "GZ2027" in page and "进口贸易论坛" in page
    assert not Edition.objects.filter(number=11).exists()

    done = client.post(_url(source), {**FORM, "confirm": "1"})
    new = Edition.objects.get(number=11)
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:ciie_portal_edition_change", args=[new.pk])
    assert EntryPeriod.objects.filter(edition=new).count() == 2


def test_a_second_click_creates_nothing_and_says_so_next_to_the_number(client, source, organiser):
    client.force_login(organiser)
    client.post(_url(source), {**FORM, "confirm": "1"})
    again = client.post(_url(source), {**FORM, "confirm": "1"})
    assert again.status_code == 200
    assert again.context["form"].errors["number"]
    assert Edition.objects.filter(number=11).count() == 1
    assert AuditEntry.objects.filter(action="edition.cloned").count() == 1


@pytest.mark.parametrize("who", ["secretary", "finance"])
def test_other_staff_are_refused(client, source, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(_url(source)).status_code == 403
    assert client.post(_url(source), {**FORM, "confirm": "1"}).status_code == 403
    assert not Edition.objects.filter(number=11).exists()


def test_anonymous_is_sent_to_sign_in(client, source):
    response = client.post(_url(source), {**FORM, "confirm": "1"})
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert not Edition.objects.filter(number=11).exists()


def _no_inline_code(response):
    nonce = re.search(r"'nonce-([^']+)'", response.get("Content-Security-Policy", ""))
    parser = InlineCode(nonce.group(1) if nonce else None)
    parser.feed(response.content.decode())
    assert parser.found == []


def test_the_pages_carry_no_inline_script_or_style(client, source, organiser):
    client.force_login(organiser)
    _no_inline_code(client.get(reverse("admin:ciie_portal_edition_change", args=[source.pk])))
    _no_inline_code(client.get(_url(source)))
    _no_inline_code(client.post(_url(source), {**FORM, "preview": "1"}))


def test_the_preview_reads_in_beijing_time_and_back_keeps_the_values(client, source, organiser):
    client.force_login(organiser)
    preview = client.post(_url(source), {**FORM, "preview": "1"})
    deadline = source.transfer_deadline + timedelta(days=364)
    assert local_text(deadline) in preview.content.decode()  # 23:59 in Beijing, not 15:59
    back = client.post(_url(source), {**FORM, "back": "1"})
    assert back.context["preview"] is None
    assert back.context["form"]["name"].value() == "第11届"
    assert not Edition.objects.filter(number=11).exists()
