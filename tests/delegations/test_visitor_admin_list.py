"""The secretaries' visitor list (交易团/分团 人员列表) as in the organiser's guide: its columns,
search by exact ID number, USCC and registered address, filters by sex, age and credential
status, 专业观众 n 已标记 beside the quotas — for the secretary's own subtree only, at a cost
that does not grow with the list."""

import itertools
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.issuance.models import PickupItem, PickupList
from credentials.models import CredentialOrder
from credentials.production.models import Credential, PrintBatch, ProductionJob
from registration.models import Label, PersonType, Pickup, Sex, Visitor
from tests.credentials.factories import CredentialOrderFactory, OrderLineFactory, payable_visitor
from tests.registration.factories import UnitFactory, VisitorFactory, make_resident_id

VISITORS = "/admin/registration/visitor/"
_serial = itertools.count(1)


def _get(client, user, **params):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(VISITORS, params)
    assert response.status_code == 200
    return response.content.decode()


def _rows(content) -> dict[str, str]:
    """The changelist's rows by the visitor's name."""
    rows = re.findall(r"<tr>(.*?)</tr>", content, re.S)
    found = {}
    for row in rows:
        name = re.search(r'<th class="field-name"><a [^>]*>([^<]+)</a>', row)
        if name:
            found[name.group(1)] = row
    return found


def _cell(row: str, column: str) -> str:
    return re.search(rf'<td class="field-{column}[^"]*">(.*?)</td>', row, re.S).group(1).strip()


def _credential(visitor, *, handed_over=False) -> Credential:
    n = next(_serial)
    job = ProductionJob.objects.create(edition=visitor.edition)
    batch = PrintBatch.objects.create(
        number=f"LB{n:06d}",
        edition=visitor.edition,
        job=job,
        status=PrintBatch.Status.PRINTED,
        sheet_sha256="0" * 64,
        manifest_sha256="0" * 64,
        cards=1,
        sheets=1,
        first_number="-",
        last_number="-",
        printed_at=timezone.now(),
    )
    credential = Credential.objects.create(
        edition=visitor.edition,
        visitor=visitor,
        sequence=n,
        number=f"L{n:09d}",
        label=visitor.label or Label.VISITOR,
        first_day=date(2027, 11, 5),
        last_day=date(2027, 11, 10),
        name=visitor.name,
        unit_name=visitor.unit.name,
        card_data_hash="0" * 64,
        qr_payload=f"qr-list-{n}",
        job=job,
        print_batch=batch,
    )
    if handed_over:
        pickup_list = PickupList.objects.create(
            number=f"LP{n:06d}",
            edition=visitor.edition,
            delegation=visitor.unit.delegation,
            status=PickupList.Status.HANDED_OVER,
            received_by_name="广州分团秘书处",
        )
        PickupItem.objects.create(pickup_list=pickup_list, credential=credential)
    return credential


def _paid_line(unit, name, fee="150.00"):
    order = CredentialOrderFactory(unit=unit, status=CredentialOrder.Status.PAID)
    visitor = payable_visitor(unit, name=name, status=Visitor.Status.PENDING_REVIEW)
    return OrderLineFactory(order=order, visitor=visitor, fee=Decimal(fee)).visitor


# --- Columns --------------------------------------------------------------------------------


def test_the_columns_of_the_guide(client, secretary, unit, edition):
    mainland = _paid_line(unit, "大陆人")
    Visitor.objects.filter(pk=mainland.pk).update(position="采购经理")
    hong_kong = VisitorFactory(
        unit=unit,
        name="香港人",
        person_type=PersonType.HMT,
        nationality="HK",
        pickup=Pickup.DELEGATION,
        reuse_eligible=True,
    )
    _credential(hong_kong, handed_over=True)

    rows = _rows(_get(client, secretary))

    assert _cell(rows["大陆人"], "region") == "Chinese mainland"
    assert _cell(rows["香港人"], "region") == "Hong Kong, China"
    assert _cell(rows["大陆人"], "position") == "采购经理"
    assert _cell(rows["大陆人"], "entry_period") == str(edition.entry_periods.first())
    assert _cell(rows["大陆人"], "fee") == "150.00"
    assert _cell(rows["香港人"], "fee") == "—"
    assert _cell(rows["大陆人"], "pickup") == "By courier (free)"
    assert _cell(rows["香港人"], "pickup") == "Collected by the delegation"
    assert _cell(rows["大陆人"], "credential_status") == "Not made yet"
    assert _cell(rows["香港人"], "credential_status") == "Issued"
    assert 'alt="True"' in _cell(rows["香港人"], "reuse_eligible")
    assert 'alt="False"' in _cell(rows["大陆人"], "reuse_eligible")


def test_a_closed_order_shows_no_fee_and_a_revoked_card_shows_revoked(client, secretary, unit):
    order = CredentialOrderFactory(unit=unit, status=CredentialOrder.Status.CLOSED)
    line = OrderLineFactory(order=order, visitor=payable_visitor(unit, name="关闭"))
    type(line).objects.filter(pk=line.pk).update(open=False)
    made = VisitorFactory(unit=unit, name="已制", status=Visitor.Status.REVIEW_PASSED)
    _credential(made)
    revoked = VisitorFactory(unit=unit, name="作废", status=Visitor.Status.CANCELLED)
    Credential.objects.filter(pk=_credential(revoked).pk).update(
        status=Credential.Status.REVOKED, revoked_at=timezone.now()
    )

    rows = _rows(_get(client, secretary))

    assert _cell(rows["关闭"], "fee") == "—"
    assert _cell(rows["已制"], "credential_status") == "Made"
    assert _cell(rows["作废"], "credential_status") == "Revoked"


# --- Search ---------------------------------------------------------------------------------


@pytest.fixture
def searched(unit, other_unit):
    number = make_resident_id(77, birth="19790203", region="440106")
    return {
        "ours": VisitorFactory(unit=unit, name="要找的", id_number=number),
        "neighbour": VisitorFactory(unit=unit, name="邻居"),
        "theirs": VisitorFactory(
            unit=other_unit, name="别团的", id_number=make_resident_id(78, region="330106")
        ),
        "number": number,
    }


def test_search_by_the_exact_id_number_finds_the_visitor(client, secretary, searched):
    typed = searched["number"][:6] + " " + searched["number"][6:].lower()

    assert set(_rows(_get(client, secretary, q=searched["number"]))) == {"要找的"}
    assert set(_rows(_get(client, secretary, q=typed))) == {"要找的"}


def test_part_of_an_id_number_finds_nothing(client, secretary, searched):
    assert _rows(_get(client, secretary, q=searched["number"][:10])) == {}
    assert _rows(_get(client, secretary, q=searched["number"][6:14])) == {}  # the birth date


def test_search_never_reads_the_cipher_text(client, secretary, searched):
    with CaptureQueriesContext(connection) as queries:
        _get(client, secretary, q=searched["number"])
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "LIKE" in sql  # the name, unit and address are searched as usual
    assert not re.search(r"id_number_(encrypted|masked)[^,]{0,40}LIKE", sql)
    assert searched["ours"].id_number_index in sql


def test_search_by_uscc_and_registered_address(client, secretary, unit, searched):
    other = UnitFactory(edition=unit.edition, delegation=unit.delegation, street="青浦区崧泽大道")
    VisitorFactory(unit=other, name="崧泽")

    assert set(_rows(_get(client, secretary, q=unit.uscc))) == {"要找的", "邻居"}
    assert set(_rows(_get(client, secretary, q="崧泽大道"))) == {"崧泽"}


def test_another_secretary_finds_nothing_of_ours(client, other_secretary, unit, searched):
    assert _rows(_get(client, other_secretary, q=searched["number"])) == {}
    assert _rows(_get(client, other_secretary, q=unit.uscc)) == {}
    assert set(_rows(_get(client, other_secretary))) == {"别团的"}


# --- Filters --------------------------------------------------------------------------------


def _born(edition, years: int, days: int = 0) -> date:
    """Born ``years`` years (and ``days`` days more) before the expo opens."""
    opens = edition.starts_on
    return opens.replace(year=opens.year - years) - timedelta(days=days)


@pytest.fixture
def people(unit, other_unit, edition):
    made = lambda name, **values: VisitorFactory(unit=unit, name=name, **values)  # noqa: E731
    cast = {
        "29岁": made("29岁", sex=Sex.FEMALE, birth_date=_born(edition, 30, days=-1)),
        "30岁": made("30岁", sex=Sex.MALE, birth_date=_born(edition, 30)),
        "45岁": made("45岁", sex=Sex.MALE, birth_date=_born(edition, 45)),
        "59岁": made("59岁", sex=Sex.FEMALE, birth_date=_born(edition, 60, days=-1)),
        "60岁": made("60岁", sex=Sex.MALE, birth_date=_born(edition, 60)),
        "不详": made("不详"),
    }
    _credential(cast["45岁"])
    VisitorFactory(unit=other_unit, name="别团女", sex=Sex.FEMALE, birth_date=_born(edition, 45))
    return cast


@pytest.mark.parametrize(
    ("parameter", "value", "choice", "shown"),
    [
        ("sex", "F", "Female (2)", {"29岁", "59岁"}),
        ("sex", "M", "Male (3)", {"30岁", "45岁", "60岁"}),
        ("sex", "none", "Not given (1)", {"不详"}),
        ("age", "u30", "Under 30 (1)", {"29岁"}),
        ("age", "30", "30–39 (1)", {"30岁"}),
        ("age", "40", "40–49 (1)", {"45岁"}),
        ("age", "50", "50–59 (1)", {"59岁"}),
        ("age", "60", "60 and over (1)", {"60岁"}),
        ("age", "none", "Not given (1)", {"不详"}),
        ("credential_status", "made", "Made", {"45岁"}),
        ("credential_status", "not_made", "Not made yet", {"29岁", "30岁", "59岁", "60岁", "不详"}),
        ("credential_status", "issued", "Issued", set()),
    ],
)
def test_the_filters_count_and_filter_within_the_subtree(
    client, secretary, people, parameter, value, choice, shown
):
    content = _get(client, secretary, **{parameter: value})

    assert set(_rows(content)) == shown
    assert f">{choice}</a>" in content


def test_another_secretarys_filters_show_only_theirs(client, other_secretary, people):
    content = _get(client, other_secretary, sex="F")

    assert set(_rows(content)) == {"别团女"}
    assert ">Female (1)</a>" in content
    assert set(_rows(_get(client, other_secretary, credential_status="made"))) == set()
    assert set(_rows(_get(client, other_secretary, age="40"))) == {"别团女"}


def test_the_label_upgrade_filter_says_what_it_filters(client, secretary, unit):
    VisitorFactory(unit=unit, name="升级", needs_new_credential=True)
    content = _get(client, secretary, credential="yes")

    assert "By label upgrade" in content
    assert "By credential status" in content
    assert set(_rows(content)) == {"升级"}


def test_a_credential_status_that_is_not_offered_is_refused(client, secretary, unit):
    VisitorFactory(unit=unit)
    client.force_login(secretary)
    response = client.get(VISITORS, {"credential_status": "stolen"})
    assert response.status_code == 302
    assert "?e=1" in response["Location"]


# --- 专业观众 n 已标记 ---------------------------------------------------------------------------


def test_professional_visitors_labelled_are_counted_beside_the_quotas(
    client, secretary, other_secretary, unit, other_unit
):
    VisitorFactory.create_batch(3, unit=unit, label=Label.VISITOR)
    VisitorFactory(unit=unit, label=Label.VIP)
    VisitorFactory.create_batch(2, unit=other_unit, label=Label.VISITOR)

    ours = re.search(r'<p class="quota">(.*?)</p>', _get(client, secretary), re.S).group(1)
    theirs = re.search(r'<p class="quota">(.*?)</p>', _get(client, other_secretary), re.S)

    assert "<strong>VIP</strong> 1/" in ours
    assert "<strong>Professional visitor</strong> 3 labelled" in ours
    assert "<strong>Professional visitor</strong> 2 labelled" in theirs.group(1)


# --- Cost -----------------------------------------------------------------------------------


def _crowd(unit, count):
    for n in range(count):
        visitor = _paid_line(unit, f"人{n}")
        if n % 2:
            _credential(visitor, handed_over=n % 4 == 1)
    VisitorFactory.create_batch(count, unit=unit, sex=Sex.MALE, birth_date=date(1980, 1, 1))


@pytest.mark.parametrize("who", ["secretary", "organiser"])
def test_the_list_costs_the_same_for_1_or_100_visitors(
    client, request, unit, who, django_assert_max_num_queries
):
    user = request.getfixturevalue(who)
    searches = [{}, {"q": "人1"}, {"sex": "M", "age": "40", "credential_status": "made"}]
    _crowd(unit, 1)
    costs = []
    for params in searches:
        with django_assert_max_num_queries(60) as one:
            _get(client, user, **params)
        costs.append(len(one.captured_queries))

    _crowd(unit, 50)

    for params, cost in zip(searches, costs, strict=True):
        with django_assert_max_num_queries(cost):
            _get(client, user, **params)
    assert _get(client, user).count('class="action-select"') == 100  # a page of the 102
