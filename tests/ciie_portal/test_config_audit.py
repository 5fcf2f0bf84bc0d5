"""Organisers' configuration edits in the admin — editions, entry periods and their fees,
quotas, delegations, side events, a unit's delegation — are audited with the old and new
values (ciie_portal.admin.AuditedAdminMixin), through the real admin pages."""

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from ciie_portal.audit import audit_trail
from ciie_portal.models import AuditEntry, EntryPeriod, SideEvent
from delegations.models import DelegationQuota
from tests.ciie_portal.factories import EntryPeriodFactory

ADD, CHANGE, DELETE = "config.add", "config.change", "config.delete"


class _AdminForm(HTMLParser):
    """The fields of the admin's change form as a browser would post them unchanged."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self._select, self._options, self._textarea = None, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name") or ""
        if "__prefix__" in name:
            return  # the empty template row of an inline
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in attrs), []
        elif tag == "option" and self._select:
            self._options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            self.fields.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            self.fields.append((name, text.removeprefix("\n")))
            self._textarea = None


def post_admin_form(client: Client, url: str, model_name: str, **changes):
    """Open the admin page at ``url``, change ``changes`` and save, as an organiser would."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = _AdminForm(f"{model_name}_form")
    form.feed(page.content.decode())
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [str(value)]
    data["_save"] = ["Save"]
    return client.post(url, data)


@pytest.fixture
def edition(edition):
    """The admin shows times to the minute: the edition's are whole minutes, so that saving
    the page unchanged changes nothing (seconds would be cut, and audited)."""
    values = {
        name: getattr(edition, name).replace(second=0, microsecond=0)
        for name in ("registration_opens_at", "registration_closes_at")
    }
    type(edition).objects.filter(pk=edition.pk).update(**values)
    edition.refresh_from_db()
    return edition


@pytest.fixture
def organiser_client(organiser):
    client = Client()
    client.force_login(organiser)
    return client


def entries(action: str, obj) -> list[AuditEntry]:
    return list(audit_trail(obj).filter(action=action).order_by("pk"))


def only_entry(action: str, obj) -> AuditEntry:
    found = entries(action, obj)
    assert len(found) == 1, [entry.data for entry in found]
    return found[0]


# --- Editions and their entry periods (fees) ----------------------------------------------------


def test_an_edition_change_is_audited_with_old_and_new_values(organiser_client, organiser, edition):
    url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
    old_name = edition.name
    response = post_admin_form(
        organiser_client,
        url,
        "edition",
        name="第十届（改）",
        reuse_fee_percent="60",
        default_vip_quota="80",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = only_entry(CHANGE, edition)
    assert entry.actor == organiser
    assert entry.data["changes"] == {
        "name": [old_name, "第十届（改）"],
        "reuse_fee_percent": ["50.00", "60.00"],
        "default_vip_quota": [edition.default_vip_quota, 80],
    }


def test_saving_an_unchanged_edition_audits_nothing(organiser_client, edition):
    url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
    assert post_admin_form(organiser_client, url, "edition").status_code == 302
    assert not AuditEntry.objects.filter(action__startswith="config.").exists()


def test_a_fee_changed_on_the_edition_page_is_audited_on_its_entry_period(
    organiser_client, edition
):
    period = edition.entry_periods.get()
    url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
    response = post_admin_form(organiser_client, url, "edition", **{"entry_periods-0-fee": "150"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    period.refresh_from_db()
    assert period.fee == Decimal("150.00")
    entry = only_entry(CHANGE, period)
    assert entry.data["changes"] == {"fee": ["200.00", "150.00"]}
    assert entry.data["parent"] == str(edition)
    assert not entries(CHANGE, edition)  # the edition itself did not change


def test_entry_periods_added_and_deleted_on_the_edition_page_are_audited(organiser_client, edition):
    spare = EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on, fee=Decimal("100.00")
    )
    url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
    new = {
        "entry_periods-TOTAL_FORMS": "3",
        "entry_periods-2-position": "3",
        "entry_periods-2-name": "最后一天",
        "entry_periods-2-first_day": edition.ends_on.isoformat(),
        "entry_periods-2-last_day": edition.ends_on.isoformat(),
        "entry_periods-2-fee": "80.00",
        "entry_periods-2-edition": str(edition.pk),
    }
    # The spare row is the second one shown (ordered by position, then pk).
    response = post_admin_form(
        organiser_client, url, "edition", **new, **{"entry_periods-1-DELETE": "on"}
    )
    assert response.status_code == 302, response.context["adminform"].formset.errors
    assert not EntryPeriod.objects.filter(pk=spare.pk).exists()
    deleted = only_entry(DELETE, spare)
    assert deleted.data["changes"]["fee"] == ["100.00", None]
    assert deleted.data["changes"]["name"] == ["后三天", None]
    added = EntryPeriod.objects.get(edition=edition, name="最后一天")
    assert only_entry(ADD, added).data["changes"]["fee"] == [None, "80.00"]


# --- Quotas, delegations, side events -----------------------------------------------------------


def test_a_quota_added_changed_and_deleted_is_audited(organiser_client, edition, guangdong):
    response = post_admin_form(
        organiser_client,
        "/admin/delegations/delegationquota/add/",
        "delegationquota",
        edition=str(edition.pk),
        delegation=str(guangdong.pk),
        vip_limit="100",
        staff_limit="",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    quota = DelegationQuota.objects.get(edition=edition, delegation=guangdong)
    assert only_entry(ADD, quota).data["changes"] == {
        "edition": [None, str(edition)],
        "delegation": [None, str(guangdong)],
        "vip_limit": [None, 100],
    }

    url = f"/admin/delegations/delegationquota/{quota.pk}/change/"
    response = post_admin_form(
        organiser_client, url, "delegationquota", vip_limit="120", staff_limit="30"
    )
    assert response.status_code == 302
    assert only_entry(CHANGE, quota).data["changes"] == {
        "vip_limit": [100, 120],
        "staff_limit": [None, 30],
    }

    pk = quota.pk
    response = organiser_client.post(
        f"/admin/delegations/delegationquota/{pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not DelegationQuota.objects.filter(pk=pk).exists()
    deleted = AuditEntry.objects.get(action=DELETE, content_type__model="delegationquota")
    assert deleted.data["changes"]["vip_limit"] == [120, None]
    assert deleted.data["changes"]["staff_limit"] == [30, None]


def test_quotas_deleted_from_the_list_are_audited_one_by_one(
    organiser_client, edition, guangdong, other_delegation
):
    quotas = [
        DelegationQuota.objects.create(edition=edition, delegation=d, vip_limit=10)
        for d in (guangdong, other_delegation)
    ]
    response = organiser_client.post(
        "/admin/delegations/delegationquota/",
        {"action": "delete_selected", "_selected_action": [q.pk for q in quotas], "post": "yes"},
    )
    assert response.status_code == 302
    assert not DelegationQuota.objects.exists()
    for quota in quotas:
        entry = AuditEntry.objects.get(
            action=DELETE, content_type__model="delegationquota", object_id=str(quota.pk)
        )
        assert entry.data["changes"]["vip_limit"] == [10, None]


def test_a_delegation_change_is_audited(organiser_client, guangdong):
    url = f"/admin/delegations/delegation/{guangdong.pk}/change/"
    old = guangdong.contact_unit
    response = post_admin_form(
        organiser_client, url, "delegation", contact_unit="广东省商务厅（新）", code="gd-new"
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = only_entry(CHANGE, guangdong)
    assert entry.data["changes"] == {
        "contact_unit": [old, "广东省商务厅（新）"],
        "code": ["gd", "gd-new"],
    }


def test_a_side_event_added_and_changed_is_audited(organiser_client, edition):
    starts = timezone.localtime(timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = post_admin_form(
        organiser_client,
        "/admin/ciie_portal/sideevent/add/",
        "sideevent",
        edition=str(edition.pk),
        name="进口食品对接会",
        starts_at_0=starts.strftime("%Y-%m-%d"),
        starts_at_1=starts.strftime("%H:%M:%S"),
        organiser="上海市商务委",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = SideEvent.objects.get(name="进口食品对接会")
    added = only_entry(ADD, event).data["changes"]
    assert added["name"] == [None, "进口食品对接会"]
    assert added["starts_at"] == [None, starts.isoformat()]

    url = f"/admin/ciie_portal/sideevent/{event.pk}/change/"
    response = post_admin_form(organiser_client, url, "sideevent", venue="国家会展中心 4.1馆")
    assert response.status_code == 302
    assert only_entry(CHANGE, event).data["changes"] == {"venue": ["", "国家会展中心 4.1馆"]}


# --- A unit's delegation --------------------------------------------------------------------


def test_moving_a_unit_to_another_delegation_is_audited_with_both_names(
    organiser_client, organiser, unit, guangzhou, other_delegation
):
    url = f"/admin/registration/unit/{unit.pk}/change/"
    response = post_admin_form(organiser_client, url, "unit", delegation=str(other_delegation.pk))
    assert response.status_code == 302, response.context["adminform"].form.errors
    unit.refresh_from_db()
    assert unit.delegation == other_delegation
    entry = only_entry(CHANGE, unit)
    assert entry.actor == organiser
    assert entry.data["changes"] == {"delegation": [str(guangzhou), str(other_delegation)]}
    # The service's own entry stays (ids), beside the names.
    moved = only_entry("unit.delegation_change", unit)
    assert (moved.from_state, moved.to_state) == (str(guangzhou.pk), str(other_delegation.pk))


# --- The wrong user cannot ----------------------------------------------------------------------


def test_finance_and_secretaries_cannot_edit_the_configuration(
    edition, finance, secretary, guangdong
):
    for user in (finance, secretary):
        client = Client()
        client.force_login(user)
        url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
        assert client.post(url, {"name": "改名", "_save": "Save"}).status_code == 403
        response = client.post(
            "/admin/delegations/delegationquota/add/",
            {"edition": edition.pk, "delegation": guangdong.pk, "vip_limit": 999},
        )
        assert response.status_code == 403
    edition.refresh_from_db()
    assert edition.name != "改名"
    assert not DelegationQuota.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="config.").exists()


def test_a_secretary_cannot_move_a_unit_to_another_delegation(
    secretary, unit, guangzhou, other_delegation
):
    client = Client()
    client.force_login(secretary)
    url = f"/admin/registration/unit/{unit.pk}/change/"
    post_admin_form(client, url, "unit", delegation=str(other_delegation.pk))
    unit.refresh_from_db()
    assert unit.delegation == guangzhou  # the field is read-only for secretaries
    assert not AuditEntry.objects.filter(action__startswith="config.").exists()
    assert not AuditEntry.objects.filter(action="unit.delegation_change").exists()


# --- The audit log shows the changes ---------------------------------------------------------


def test_the_audit_log_shows_old_and_new_values(organiser_client, edition):
    url = f"/admin/ciie_portal/edition/{edition.pk}/change/"
    post_admin_form(organiser_client, url, "edition", **{"entry_periods-0-fee": "150"})
    entry = AuditEntry.objects.get(action=CHANGE)
    listing = organiser_client.get("/admin/ciie_portal/auditentry/?action=config.change")
    assert "200.00 → 150.00" in listing.content.decode()
    detail = organiser_client.get(f"/admin/ciie_portal/auditentry/{entry.pk}/change/")
    assert detail.status_code == 200
    assert "200.00 → 150.00" in detail.content.decode()
