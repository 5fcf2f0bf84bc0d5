"""供采对接, the ranking: the exhibitors of the unit's edition that fit its purchase intentions
(areas, zones, industry, countries it wants to see, volume), best first, with the reasons in
Chinese and English; the recommendations page, the preferences, the dashboard panel and what
they cost."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from ciie_portal.models import AuditEntry
from registration.exhibitors.directory import edition_has_exhibitors
from registration.exhibitors.favourites import favourite_add, matching_profile_save
from registration.exhibitors.matching import WEIGHTS, dashboard_panel, recommendations
from registration.exhibitors.models import Exhibitor, MatchingProfile
from tests.ciie_portal.factories import EditionFactory

pytestmark = pytest.mark.django_db

_codes = iter(range(1, 1_000_000))


def exhibitor(edition, name, **fields) -> Exhibitor:
    """An exhibitor as the directory's import leaves it."""
    number = next(_codes)
    return Exhibitor.objects.create(
        edition=edition, code=fields.pop("code", f"E{number:05d}"), name=name, **fields
    )


@pytest.fixture
def buyer(unit):
    """A unit that wants medical equipment, biomedicine and German exhibitors, in the
    pharmaceutical industry (GB/T 4754 division 27), buying USD 5–10 million a year."""
    unit.interest_areas = ["medical_healthcare"]
    unit.interest_zones = ["biomedicine"]
    unit.industry = "2710"
    unit.purchase_1y = "500_1000"
    unit.save()
    MatchingProfile.objects.create(unit=unit, countries=["DE"])
    return unit


@pytest.fixture
def hall(edition):
    """A German biomedicine exhibitor, a French medical one, a German car maker, a Japanese
    one that fits on nothing."""
    return {
        "bayer": exhibitor(
            edition,
            "拜耳医药",
            name_en="Bayer Pharma",
            country="DE",
            area="medical_healthcare",
            zone="biomedicine",
            industries=["27", "35"],
            min_order_band="100_500",
        ),
        "sanofi": exhibitor(
            edition, "赛诺菲", name_en="Sanofi", country="FR", area="medical_healthcare"
        ),
        "bmw": exhibitor(
            edition, "宝马", name_en="BMW", country="DE", area="automobile", industries=["36"]
        ),
        "toyota": exhibitor(edition, "丰田", country="JP", area="automobile"),
    }


def _names(matches):
    return [match.exhibitor.name for match in matches]


def test_it_ranks_the_exhibitors_that_fit_best_first(buyer, hall):
    matches = recommendations(buyer)
    assert _names(matches) == ["拜耳医药", "赛诺菲", "宝马"]
    assert [match.score for match in matches] == [
        WEIGHTS["area"] + WEIGHTS["zone"] + WEIGHTS["industry"] + WEIGHTS["country"] + 1,
        WEIGHTS["area"],
        WEIGHTS["country"],
    ]
    assert [kind for kind, _text in matches[0].reasons] == [
        "area",
        "zone",
        "industry",
        "country",
        "volume",
    ]
    assert [kind for kind, _text in matches[1].reasons] == ["area"]
    assert [kind for kind, _text in matches[2].reasons] == ["country"]


def test_the_reasons_read_in_chinese(buyer, hall):
    with translation.override("zh-hans"):
        reasons = dict(recommendations(buyer)[0].reasons)
    assert "医疗器械及医药保健展区" in reasons["area"]
    assert "生物医药专区" in reasons["zone"]
    assert "医药制造业" in reasons["industry"]
    assert "德国" in reasons["country"]


def test_the_reasons_read_in_english(buyer, hall):
    with translation.override("en"):
        match = recommendations(buyer)[0]
        reasons = dict(match.reasons)
        assert match.name == "Bayer Pharma"
    assert reasons["area"] == (
        "Exhibition area: Medical Equipment and Healthcare Products Exhibition Area"
    )
    assert reasons["zone"] == "Special zone: Biomedicine Zone"
    assert reasons["industry"] == "Industry: Manufacture of Medicines"
    assert reasons["country"] == "Country or region: Germany"
    assert reasons["volume"] == "Purchase volume: USD 5–10 million"


def test_ties_are_ordered_by_name(edition, unit):
    unit.interest_areas = ["consumer_goods"]
    unit.save()
    for name in ["丙公司", "甲公司", "乙公司", "Acme"]:
        exhibitor(edition, name, area="consumer_goods")
    assert _names(recommendations(unit)) == sorted(["丙公司", "甲公司", "乙公司", "Acme"])


def test_unlisted_and_other_editions_exhibitors_are_not_recommended(buyer, edition):
    exhibitor(edition, "撤展公司", area="medical_healthcare", is_listed=False)
    exhibitor(EditionFactory(number=9), "往届公司", area="medical_healthcare")
    exhibitor(edition, "本届公司", area="medical_healthcare")
    assert _names(recommendations(buyer)) == ["本届公司"]


def test_the_volume_alone_recommends_nobody(edition, unit):
    unit.purchase_1y = "over_5000"
    unit.save()
    exhibitor(edition, "小单公司", area="automobile", min_order_band="under_100")
    assert recommendations(unit) == []


def test_the_volume_counts_only_at_or_above_the_exhibitors_smallest_order(edition, unit):
    unit.interest_areas = ["automobile"]
    unit.purchase_1y = "100_500"
    unit.save()
    exhibitor(edition, "甲", area="automobile", min_order_band="under_100")
    exhibitor(edition, "乙", area="automobile", min_order_band="100_500")
    exhibitor(edition, "丙", area="automobile", min_order_band="500_1000")
    scores = {match.exhibitor.name: match.score for match in recommendations(unit)}
    assert scores == {"甲": 4, "乙": 4, "丙": 3}


def test_a_unit_without_intentions_gets_no_recommendation_and_no_query(edition, unit):
    exhibitor(edition, "甲", area="automobile")
    assert recommendations(unit) == []


def test_limit_and_offset_page_through_the_ranking(edition, unit):
    unit.interest_areas = ["automobile"]
    unit.save()
    for n in range(5):
        exhibitor(edition, f"公司{n}", area="automobile")
    assert _names(recommendations(unit, limit=2, offset=2)) == ["公司2", "公司3"]


# --- The page -------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


def test_the_page_shows_the_ranking_with_reasons_and_favourites(signed_in, buyer, hall):
    favourite_add(unit=buyer, exhibitor=hall["sanofi"], actor=buyer.account)
    signed_in.cookies["django_language"] = "en"
    page = signed_in.get("/accounts/matching/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert page.index("Bayer Pharma") < page.index("Sanofi") < page.index("BMW")
    assert "Toyota" not in page and "丰田" not in page
    assert "Special zone: Biomedicine Zone" in page
    assert "Country or region: Germany" in page
    assert f'action="/accounts/favourites/exhibitor/{hall["sanofi"].pk}/"' in page
    # Sanofi is kept (a remove button), the others can be saved.
    assert page.count('data-favourite="yes"') == 1
    assert page.count('data-favourite="no"') == 2


def test_the_page_in_chinese(signed_in, buyer, hall):
    page = signed_in.get("/accounts/matching/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert page.index("拜耳医药") < page.index("赛诺菲")
    assert "生物医药专区" in page and "德国" in page


def test_without_intentions_the_page_says_what_to_fill_in(signed_in, unit, edition):
    exhibitor(edition, "甲", area="automobile")
    page = signed_in.get("/accounts/matching/").content.decode()
    assert 'id="matching-no-intentions"' in page
    assert 'href="/accounts/unit/"' in page


def test_without_exhibitors_the_page_says_the_list_is_not_out(signed_in, buyer):
    page = signed_in.get("/accounts/matching/").content.decode()
    assert 'id="matching-no-exhibitors"' in page


def test_the_page_is_paginated(signed_in, edition, unit):
    unit.interest_areas = ["automobile"]
    unit.save()
    for n in range(25):
        exhibitor(edition, f"公司{n:02d}", area="automobile")
    first = signed_in.get("/accounts/matching/").content.decode()
    assert "公司19" in first and "公司20" not in first and "?page=2" in first
    second = signed_in.get("/accounts/matching/?page=2").content.decode()
    assert "公司20" in second and "公司24" in second and "公司19" not in second
    assert signed_in.get("/accounts/matching/?page=9").status_code == 404


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/accounts/matching/").status_code == 200
    return len(captured)


def test_the_page_costs_the_same_queries_for_1_or_50_exhibitors(signed_in, buyer, edition):
    exhibitor(edition, "公司000", area="medical_healthcare")
    signed_in.get("/accounts/matching/")  # the per-edition facts kept
    one = _page_queries(signed_in)
    for n in range(1, 50):
        made = exhibitor(edition, f"公司{n:03d}", area="medical_healthcare", country="DE")
        if n % 3 == 0:
            favourite_add(unit=buyer, exhibitor=made, actor=buyer.account)
    signed_in.get("/accounts/matching/")
    assert _page_queries(signed_in) == one


def test_the_pages_need_a_sign_in(client, edition):
    for url in (
        "/accounts/matching/",
        "/accounts/matching/preferences/",
        "/accounts/favourites/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_an_account_without_a_unit_gets_404(client, edition):
    from tests.registration.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get("/accounts/matching/").status_code == 404


def test_staff_without_a_unit_gets_404(client, edition, secretary):
    client.force_login(secretary)
    for url in ("/accounts/matching/", "/accounts/favourites/"):
        assert client.get(url).status_code == 404


# --- Preferences ----------------------------------------------------------------------------


def test_the_preferences_are_saved_and_audited(signed_in, unit):
    response = signed_in.post("/accounts/matching/preferences/", {"countries": ["DE", "FR"]})
    assert response.status_code == 302 and response["Location"] == "/accounts/matching/"
    assert MatchingProfile.objects.get(unit=unit).countries == ["DE", "FR"]
    entry = AuditEntry.objects.get(action="matching_profile.change")
    assert entry.data == {"countries": [[], ["DE", "FR"]]}
    page = signed_in.get("/accounts/matching/preferences/").content.decode()
    assert 'value="DE" selected' in page


def test_saving_the_same_preferences_records_nothing_new(unit):
    matching_profile_save(unit=unit, countries=["JP"], actor=unit.account)
    matching_profile_save(unit=unit, countries=["JP", "jp"], actor=unit.account)
    assert AuditEntry.objects.filter(action="matching_profile.change").count() == 1


def test_an_unknown_country_is_refused_next_to_the_field(signed_in, unit):
    response = signed_in.post(
        "/accounts/matching/preferences/", {"countries": ["DE", "XX"]}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "id_countries" in page and "XX is not one of the available choices" in page
    assert 'value="DE" selected' in page  # nothing typed lost
    assert not MatchingProfile.objects.filter(unit=unit).exists()


def test_the_countries_chosen_rank_their_exhibitors(unit, edition):
    exhibitor(edition, "德企", country="DE")
    assert recommendations(unit) == []
    matching_profile_save(unit=unit, countries=["DE"], actor=unit.account)
    assert _names(recommendations(unit)) == ["德企"]


# --- The dashboard --------------------------------------------------------------------------


def test_the_panel_asks_nothing_while_the_edition_lists_no_exhibitor(
    buyer, edition, django_assert_num_queries
):
    exhibitor(EditionFactory(number=9), "往届公司", area="medical_healthcare")
    exhibitor(edition, "撤展公司", area="medical_healthcare", is_listed=False)
    assert edition_has_exhibitors(edition.pk) is False  # kept in the shared cache
    with django_assert_num_queries(0):
        assert dashboard_panel(buyer) is None


def test_the_panel_shows_the_top_three_in_two_queries(buyer, hall, edition):
    exhibitor(edition, "美敦力", country="US", area="medical_healthcare", zone="biomedicine")
    edition_has_exhibitors(edition.pk)
    with CaptureQueriesContext(connection) as captured:
        panel = dashboard_panel(buyer)
    assert len(captured) <= 2
    assert [match.exhibitor.name for match in panel["matches"]] == ["拜耳医药", "美敦力", "赛诺菲"]


def test_the_dashboard_shows_the_panel(signed_in, buyer, hall):
    page = signed_in.get("/accounts/").content.decode()
    assert 'id="matching-panel"' in page
    assert "拜耳医药" in page and 'href="/accounts/matching/"' in page


def test_the_panel_asks_for_intentions_when_there_are_none(unit, edition):
    exhibitor(edition, "甲", area="automobile")
    panel = dashboard_panel(unit)
    assert panel["no_intentions"] is True and panel["matches"] == []


def test_each_exhibitor_links_to_its_directory_page(signed_in, buyer, hall):
    page = signed_in.get("/accounts/matching/").content.decode()
    assert f'href="/accounts/exhibitors/{hall["bayer"].pk}/"' in page
