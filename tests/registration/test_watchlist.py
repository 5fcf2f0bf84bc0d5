"""关注名单: the watchlist, across editions — matched by ID number or by name and date of birth
wherever a visitor is saved, security told, the unit never; its admin."""

import json
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.utils import translation

from ciie_portal.crypto import blind_index
from ciie_portal.models import AuditEntry, Notice
from ciie_portal.roles import SECURITY_REVIEWER
from registration.models import Visitor, WatchlistEntry, WatchlistMatch
from registration.returning import unit_bring_forward
from registration.services import visitor_save
from registration.watchlist import beijing_today, watchlist_add, watchlist_match
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.registration.factories import UnitFactory, UserFactory, VisitorFactory, make_resident_id
from tests.registration.test_visitors import mainland

NUMBER = make_resident_id(11, birth="19850315", region="440106")
BORN = date(1985, 3, 15)
REASON = "涉案人员，需现场核实"
ENTRIES = "/admin/registration/watchlistentry/"
MATCHES = "/admin/registration/watchlistmatch/"
VISITORS = "/admin/registration/visitor/"


@pytest.fixture(autouse=True)
def in_english_pages(client, settings):
    """The admin pages here are read in English (the texts asserted are the msgids)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def reviewer(roles):
    user = UserFactory(is_staff=True, email="security@example.com")
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    return user


@pytest.fixture
def second_reviewer(roles):
    user = UserFactory(is_staff=True, email="security2@example.com")
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    return user


@pytest.fixture
def edition_11(edition):
    later = EditionFactory(number=11)
    EntryPeriodFactory(edition=later)
    return later


def save(unit, *, name="李明", number=NUMBER, born=BORN, visitor=None):
    """The unit saves a visitor (as its form does)."""
    return visitor_save(
        unit=unit,
        actor=unit.account,
        values={"person_type": "mainland", "name": name, "birth_date": born},
        id_type="resident_id",
        id_number=number,
        visitor=visitor,
    )


def watch_notices():
    return list(Notice.objects.filter(event="watchlist_match").order_by("pk"))


# --- Entries -----------------------------------------------------------------------------------


def test_an_entry_needs_an_id_number_or_a_name_with_a_birth_date_and_a_reason(reviewer):
    with translation.override("en"):
        with pytest.raises(ValidationError, match="an ID number, or a name with a date of birth"):
            watchlist_add(name="李明", reason=REASON, actor=reviewer)
        with pytest.raises(ValidationError, match="an ID number, or a name with a date of birth"):
            watchlist_add(birth_date=BORN, reason=REASON, actor=reviewer)
        with pytest.raises(ValidationError, match="reason"):
            watchlist_add(id_number=NUMBER, reason=" ", actor=reviewer)
        with pytest.raises(ValidationError, match="already passed"):
            watchlist_add(
                id_number=NUMBER, reason=REASON, expires_on=date(2020, 1, 1), actor=reviewer
            )
        assert not WatchlistEntry.objects.exists()

        by_name = watchlist_add(name=" 李  明 ", birth_date=BORN, reason=REASON, actor=reviewer)
        assert (by_name.name, by_name.birth_date, by_name.id_number_index) == ("李 明", BORN, "")


def test_the_id_number_is_kept_only_as_its_blind_index(reviewer):
    typed = f" {NUMBER[:6]} {NUMBER[6:].lower()} "  # spaces, a lower-case x: normalised

    entry = watchlist_add(id_number=typed, reason=REASON, actor=reviewer)

    assert entry.id_number_index == blind_index(NUMBER)
    stored = WatchlistEntry.objects.filter(pk=entry.pk).values().get()
    assert not any(NUMBER in str(value) for value in stored.values())
    audit = AuditEntry.objects.get(action="watchlist.add")
    assert NUMBER not in json.dumps(audit.data) and NUMBER not in audit.object_repr
    assert audit.actor == reviewer


# --- Matching ----------------------------------------------------------------------------------


def test_a_visitor_saved_in_edition_10_is_matched_by_id_number_and_security_is_told(
    edition, unit, reviewer, second_reviewer
):
    entry = watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)

    visitor = save(unit)

    match = WatchlistMatch.objects.get()
    assert (match.entry, match.visitor, match.matched_on) == (
        entry,
        visitor,
        WatchlistMatch.On.ID_NUMBER,
    )
    notices = watch_notices()
    assert sorted(n.recipient for n in notices) == ["security2@example.com", "security@example.com"]
    params = notices[0].params
    assert (params["name"], params["edition"], params["reason"]) == ("李明", edition.name, REASON)
    assert NUMBER not in json.dumps(params) and visitor.id_number_masked not in json.dumps(params)
    assert AuditEntry.objects.filter(action="watchlist.match", object_id=str(match.pk)).exists()


def test_a_visitor_is_matched_by_name_and_date_of_birth(unit, reviewer):
    entry = watchlist_add(name="李明", birth_date=BORN, reason=REASON, actor=reviewer)

    save(unit, name="李 明", number=make_resident_id(5, birth="19850315"))
    save(unit, name="李明", number=make_resident_id(6, birth="19850316"), born=date(1985, 3, 16))
    save(unit, name="王明", number=make_resident_id(7, birth="19850315"))

    match = WatchlistMatch.objects.get()
    assert (match.entry, match.visitor.name, match.matched_on) == (
        entry,
        "李 明",
        WatchlistMatch.On.NAME_BIRTH_DATE,
    )


def test_latin_names_are_compared_without_case_or_extra_spaces(unit, reviewer):
    watchlist_add(name="John  SMITH", birth_date=BORN, reason=REASON, actor=reviewer)

    visitor = save(unit, name="john smith", number=make_resident_id(5, birth="19850315"))

    assert WatchlistMatch.objects.get().visitor == visitor


def test_the_watchlist_carries_across_editions(edition, edition_11, unit, reviewer, guangzhou):
    """Saved in edition 10, then the same person registers in edition 11: matched again."""
    by_number = watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    by_name = watchlist_add(name="李明", birth_date=BORN, reason="另一原因", actor=reviewer)
    earlier = save(unit)
    later_unit = UnitFactory(edition=edition_11, delegation=guangzhou)

    later = save(later_unit)

    assert later.edition == edition_11 and later.id_number_index == earlier.id_number_index
    found = set(WatchlistMatch.objects.values_list("entry_id", "visitor_id", "matched_on"))
    assert found == {
        (by_number.pk, earlier.pk, "id_number"),
        (by_name.pk, earlier.pk, "name_birth_date"),
        (by_number.pk, later.pk, "id_number"),
        (by_name.pk, later.pk, "name_birth_date"),
    }
    editions = sorted({n.params["edition"] for n in watch_notices()})
    assert editions == sorted([edition.name, edition_11.name])
    assert len(watch_notices()) == 4  # two entries × two visitors, one member of security


def test_visitors_brought_forward_into_the_next_edition_are_matched(
    edition, edition_11, guangzhou, reviewer
):
    old_unit = UnitFactory(edition=edition, delegation=guangzhou, status="approved")
    old = VisitorFactory(unit=old_unit, id_number=NUMBER, name="李明")
    VisitorFactory(unit=old_unit, id_number=make_resident_id(3), name="张三")
    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    assert WatchlistMatch.objects.get().visitor == old  # edition 10 is the current one
    old_unit.account.email = "unit@example.com"

    unit, copied, _skipped = unit_bring_forward(
        previous_unit=old_unit, edition=edition_11, actor=old_unit.account
    )

    assert copied == 2
    new = Visitor.objects.get(unit=unit, name="李明")
    assert WatchlistMatch.objects.filter(visitor=new).count() == 1
    assert not WatchlistMatch.objects.filter(visitor__name="张三").exists()
    assert [n.params["edition"] for n in watch_notices()] == [edition.name, edition_11.name]


def test_adding_an_entry_matches_the_current_editions_visitors_only(edition, edition_11, unit):
    reviewer = UserFactory(is_staff=True)
    current = VisitorFactory(unit=unit, id_number=NUMBER)
    other_unit = UnitFactory(edition=edition_11)
    VisitorFactory(unit=other_unit, id_number=NUMBER)

    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)

    assert list(WatchlistMatch.objects.values_list("visitor_id", flat=True)) == [current.pk]


def test_an_expired_or_inactive_entry_does_not_match(unit, reviewer):
    yesterday = beijing_today() - timedelta(days=1)
    WatchlistEntry.objects.create(
        id_number_index=blind_index(NUMBER), reason="过期", expires_on=yesterday
    )
    WatchlistEntry.objects.create(
        id_number_index=blind_index(NUMBER), reason="停用", is_active=False
    )
    WatchlistEntry.objects.create(name="李明", birth_date=BORN, reason="停用", is_active=False)

    visitor = save(unit)

    assert not WatchlistMatch.objects.exists() and not watch_notices()
    # Expiring today still counts (Beijing's today).
    today = WatchlistEntry.objects.create(
        id_number_index=blind_index(NUMBER), reason="今天到期", expires_on=beijing_today()
    )
    assert watchlist_match([visitor]) == 1
    assert WatchlistMatch.objects.get().entry == today


def test_a_save_no_entry_could_match_asks_the_watchlist_nothing(unit, reviewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = make_resident_id(12, birth="19900101", region="440106")
    WatchlistEntry.objects.create(id_number_index=blind_index(other), reason=REASON)
    WatchlistEntry.objects.create(name="王五", birth_date=date(1990, 1, 1), reason=REASON)
    visitor = save(unit)  # the entries' keys read once, then kept
    with CaptureQueriesContext(connection) as queries:
        save(unit, visitor=visitor)
    assert not any("watchlistentry" in q["sql"] for q in queries.captured_queries)
    assert not WatchlistMatch.objects.exists()
    # The same date of birth under another name: the rows are read and compared, no match.
    WatchlistEntry.objects.create(name="张三", birth_date=BORN, reason=REASON)
    with CaptureQueriesContext(connection) as queries:
        save(unit, visitor=visitor)
    assert any("watchlistentry" in q["sql"] for q in queries.captured_queries)
    assert not WatchlistMatch.objects.exists()
    # An entry made active again by a bulk update is seen at once.
    WatchlistEntry.objects.create(
        id_number_index=blind_index(NUMBER), reason=REASON, is_active=False
    )
    save(unit, visitor=visitor)
    assert not WatchlistMatch.objects.exists()
    WatchlistEntry.objects.filter(is_active=False).update(is_active=True)
    save(unit, visitor=visitor)
    assert WatchlistMatch.objects.get().visitor == visitor


def test_saving_again_neither_matches_nor_tells_twice(unit, reviewer):
    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    visitor = save(unit)

    save(unit, visitor=visitor, name="李明")
    assert watchlist_match(Visitor.objects.all()) == 0

    assert WatchlistMatch.objects.count() == 1
    assert len(watch_notices()) == 1


# --- The unit never learns of it -----------------------------------------------------------


def test_the_unit_sees_nothing_of_a_match(
    client, edition, unit, contact, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    from tests.registration.factories import DeliveryAddressFactory

    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    address = DeliveryAddressFactory(unit=unit, is_default=True)
    client.force_login(contact)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/visitors/add/mainland/", mainland(edition, address, save="1"), follow=True
        )

    assert response.status_code == 200
    visitor = Visitor.objects.get(unit=unit)
    assert WatchlistMatch.objects.filter(visitor=visitor).exists()
    pages = [
        response.content.decode(),
        client.get("/accounts/visitors/").content.decode(),
        client.get(f"/accounts/visitors/{visitor.pk}/").content.decode(),
        client.get("/accounts/").content.decode(),
    ]
    for page in pages:
        for word in (REASON, "watchlist", "Watchlist", "关注名单", "安检"):
            assert word not in page
    # Notices: security only; nothing reaches the unit's addresses.
    unit_addresses = {unit.contact_email, unit.contact_mobile, contact.email, contact.mobile}
    assert not Notice.objects.filter(recipient__in=unit_addresses - {""}).exists()
    assert {n.recipient for n in Notice.objects.all()} == {reviewer.email}
    assert [message.to for message in mailoutbox] == [[reviewer.email]]
    [message] = mailoutbox
    assert "李明" in message.body and edition.name in message.body and REASON in message.body
    assert "李明" in message.subject
    assert NUMBER not in message.body + message.subject
    assert visitor.id_number_masked not in message.body


# --- The admin ---------------------------------------------------------------------------------


def test_the_reviewer_adds_an_entry_in_the_admin_and_never_sees_the_number_again(
    client, edition, unit, reviewer
):
    visitor = VisitorFactory(unit=unit, id_number=NUMBER, name="李明")
    client.force_login(reviewer)

    response = client.post(
        ENTRIES + "add/",
        {"id_number": NUMBER, "name": "", "birth_date": "", "reason": REASON, "expires_on": ""},
        follow=True,
    )

    assert response.status_code == 200
    entry = WatchlistEntry.objects.get()
    assert (entry.id_number_index, entry.reason, entry.created_by) == (
        blind_index(NUMBER),
        REASON,
        reviewer,
    )
    assert WatchlistMatch.objects.get().visitor == visitor  # matched at once
    listing = client.get(ENTRIES).content.decode()
    assert REASON in listing
    assert NUMBER not in listing and entry.id_number_index not in listing
    detail = client.get(f"{ENTRIES}{entry.pk}/change/").content.decode()
    assert NUMBER not in detail and entry.id_number_index not in detail
    matches = client.get(MATCHES).content.decode()
    assert "李明" in matches and visitor.reference in matches and NUMBER not in matches
    # Neither a number nor a name with a birth date: refused on the form.
    refused = client.post(ENTRIES + "add/", {"name": "李明", "reason": REASON})
    assert "an ID number, or a name with a date of birth" in refused.content.decode()
    assert WatchlistEntry.objects.count() == 1


def test_an_entry_is_deactivated_not_deleted(client, reviewer):
    entry = watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    client.force_login(reviewer)

    assert client.get(f"{ENTRIES}{entry.pk}/delete/").status_code == 403
    client.post(f"{ENTRIES}{entry.pk}/change/", {"reason": REASON, "expires_on": ""})

    entry.refresh_from_db()
    assert not entry.is_active
    change = AuditEntry.objects.get(action="config.change", object_id=str(entry.pk))
    assert change.data["changes"]["is_active"] == [True, False]


def test_a_secretary_is_refused_the_watchlist_and_sees_no_mark_on_visitors(
    client, unit, reviewer, secretary
):
    entry = watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    visitor = save(unit)
    match = WatchlistMatch.objects.get()
    client.force_login(secretary)

    for url in (
        ENTRIES,
        ENTRIES + "add/",
        f"{ENTRIES}{entry.pk}/change/",
        MATCHES,
        f"{MATCHES}{match.pk}/change/",
    ):
        assert client.get(url).status_code == 403, url
    listing = client.get(VISITORS).content.decode()
    assert "李明" in listing  # their delegation's visitor…
    assert REASON not in listing and "watchlist" not in listing  # …without the mark
    detail = client.get(f"{VISITORS}{visitor.pk}/change/").content.decode()
    assert REASON not in detail
    filtered = client.get(VISITORS + "?watchlist=yes")
    assert REASON not in filtered.content.decode()


def test_who_may_see_matches_gets_the_watchlist_filter_and_column_on_visitors(
    client, unit, reviewer, organiser
):
    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    visitor = save(unit)
    save(unit, name="王五", number=make_resident_id(8))
    organiser.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="registration", codename="view_watchlistmatch"
        )
    )
    client.force_login(organiser)

    listing = client.get(VISITORS).content.decode()
    assert REASON in listing and "王五" in listing
    only = client.get(VISITORS + "?watchlist=yes").content.decode()
    assert "李明" in only and "王五" not in only
    assert REASON in client.get(f"{VISITORS}{visitor.pk}/change/").content.decode()


def test_the_review_file_names_the_watchlist_reason_and_the_delegation_list_does_not(
    client, edition, guangzhou, reviewer, secretary
):
    from tests.credentials.test_review import EXPORT, LIST, awaiting, rows_of
    from tests.registration.factories import ApprovedUnitFactory

    unit = ApprovedUnitFactory(edition=edition, delegation=guangzhou)
    watched = awaiting(unit, id_number=NUMBER, name="李明")
    awaiting(unit, name="王五")
    watchlist_add(id_number=NUMBER, reason=REASON, actor=reviewer)
    client.force_login(reviewer)

    rows = rows_of(client.post(EXPORT, {"limit": 100}).content)

    marks = {row["reference"]: row["watchlist"] for row in rows}
    assert marks[watched.reference] == REASON
    assert set(marks.values()) == {REASON, None}
    client.force_login(secretary)
    listed = client.get(LIST)
    if listed.status_code == 200 and listed.get("Content-Type", "").startswith("application/vnd"):
        assert all("watchlist" not in row for row in rows_of(listed.content))
        assert REASON.encode() not in listed.content


def test_visitors_imported_from_an_earlier_edition_are_matched(tmp_path, edition, reviewer):
    from io import StringIO

    from django.core.management import call_command

    from tests.registration.test_returning import _import_rows, _sheet

    EditionFactory(number=9)
    rows = _import_rows()
    watchlist_add(id_number="E12345678", reason=REASON, actor=reviewer)

    call_command("import_previous_edition", str(_sheet(tmp_path / "a.xlsx", rows)), edition=9,
                 stdout=StringIO())  # fmt: skip

    match = WatchlistMatch.objects.get()
    assert (match.visitor.name, match.visitor.edition.number) == ("SMITH John", 9)
    assert [n.params["name"] for n in watch_notices()] == ["SMITH John"]
