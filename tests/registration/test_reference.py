"""Reference data of the registration forms (registration/reference.py, registration/data/) and
its two JSON look-ups. Only the view tests need the database (the test client's middleware)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.functional import Promise

from registration import reference

# ---------------------------------------------------------------------------------------------
# Data files
# ---------------------------------------------------------------------------------------------


def _county_nodes():
    with reference.DIVISIONS_FILE.open(encoding="utf-8") as handle:
        tree = json.load(handle)
    return [
        (city["code"], county)
        for province in tree
        for city in province["children"]
        for county in city["children"]
    ]


def _city_codes(province):
    return [code for code, _name in reference.children(province)]


def test_the_data_ships_with_the_project_and_its_provenance():
    data_dir = reference.DATA_DIR
    assert data_dir == reference.DIVISIONS_FILE.parent == reference.INDUSTRY_FILE.parent
    assert data_dir.parent.name == "registration"
    assert "/work/shared" not in str(data_dir)
    sources = (data_dir / "SOURCES.md").read_text(encoding="utf-8")
    for needle in (
        "dc3a1d7acd85ca1b0979543e9259604142c52e8e",  # modood data commit
        "85f89cbf937245af045bf19be80a430d71331f9a",  # wintterHub commit
        "WTFPL",
        "neither repository states one",
        "1381",
        "124",
    ):
        assert needle in sources


# ---------------------------------------------------------------------------------------------
# Administrative divisions
# ---------------------------------------------------------------------------------------------


def test_there_are_34_provinces_with_6_digit_codes():
    provinces = reference.provinces()
    assert len(provinces) == 34
    assert provinces[0] == ("110000", "北京市")
    assert ("440000", "广东省") in provinces
    assert {"710000", "810000", "820000"} <= {code for code, _name in provinces}
    assert all(len(code) == 6 and code.isdigit() for code, _name in provinces)


def test_guangdong_guangzhou_tianhe_form_a_chain():
    assert ("440100", "广州市") in reference.children("440000")
    assert ("440106", "天河区") in reference.children("440100")
    assert reference.children("440106") == []
    assert reference.division_path("440000", "440100", "440106") == "广东省 广州市 天河区"
    reference.validate_division("440000", "440100", "440106")


def test_the_124_functional_zones_are_hidden_from_children_but_have_names():
    zones = [(city, node) for city, node in _county_nodes() if node.get("functional_zone")]
    assert len(zones) == 124
    for city, node in zones:
        assert node["code"] not in {code for code, _name in reference.children(city)}
        assert (node["code"], node["name"]) in reference.children(city, functional_zones=True)
        assert reference.division_name(node["code"]) == node["name"]
    cities = [city for province, _name in reference.provinces() for city in _city_codes(province)]
    assert len(cities) == 342
    administrative = sum(len(reference.children(city)) for city in cities)
    assert administrative == 2974 - 124


def test_a_functional_zone_is_a_district_only_when_asked_for():
    assert reference.division_name("320576") == "苏州工业园区"
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("320000", "320500", "320576")
    assert caught.value.code == "district_invalid"
    reference.validate_division("320000", "320500", "320576", functional_zones=True)


def test_dongguan_has_no_districts():
    assert reference.children("441900") == []
    reference.validate_division("440000", "441900", "")
    reference.validate_division("440000", "441900")
    for city in ("442000", "620200", "460400"):  # 中山, 嘉峪关, 儋州
        assert reference.children(city) == []
    reference.validate_division("620000", "620200", "")
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("440000", "441900", "440106")
    assert caught.value.code == "district_not_allowed"


def test_a_district_of_another_city_fails():
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("440000", "440300", "440106")  # 深圳市 + 广州 天河区
    assert caught.value.code == "district_invalid"


def test_a_city_of_another_province_fails():
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("440000", "310100", "310118")
    assert caught.value.code == "city_invalid"


def test_hong_kong_macao_and_taiwan_need_no_city():
    for province in ("810000", "820000", "710000"):
        assert reference.children(province) == []
        reference.validate_division(province, "", "")
    assert reference.division_path("810000", "", "") == "香港特别行政区"
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("810000", "440100", "")
    assert caught.value.code == "city_not_allowed"


@pytest.mark.parametrize(
    ("codes", "error_code"),
    [
        (("", "", ""), "province_required"),
        ((None, None, None), "province_required"),
        (("990000", "", ""), "province_invalid"),
        (("440100", "", ""), "province_invalid"),  # a city is not a province
        (("440000", "", ""), "city_required"),
        (("440000", "", "440106"), "city_required"),
        (("440000", "440100", ""), "district_required"),
        (("440000", "440100", "440199"), "district_invalid"),
    ],
)
def test_incomplete_or_broken_chains_fail(codes, error_code):
    with pytest.raises(ValidationError) as caught:
        reference.validate_division(*codes)
    assert caught.value.code == error_code


def test_the_messages_are_translatable_english():
    with pytest.raises(ValidationError) as caught:
        reference.validate_division("", "", "")
    assert isinstance(caught.value.message, Promise)
    with translation.override("en"):
        assert str(caught.value.message) == "Choose a province."


def test_placeholders_are_left_out_of_the_path():
    assert reference.children("110000") == [("110100", "市辖区")]
    assert reference.division_path("110000", "110100", "110105") == "北京市 朝阳区"
    assert reference.division_path("500000", "500200", "500229") == "重庆市 城口县"
    assert reference.division_path("410000", "419000", "419001") == "河南省 济源市"
    reference.validate_division("410000", "419000", "419001")


def test_unknown_codes_have_no_name_and_no_children():
    assert reference.division_name("999999") == ""
    assert reference.division_name("") == ""
    assert reference.children("999999") == []
    assert reference.division_path("440000", "999999", "") == "广东省"


# ---------------------------------------------------------------------------------------------
# Industries (GB/T 4754-2017)
# ---------------------------------------------------------------------------------------------


def test_there_are_1381_four_digit_classes_with_their_path():
    classes = reference.industry_classes()
    assert len(classes) == 1381
    codes = [item["code"] for item in classes]
    assert len(set(codes)) == 1381
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert codes[0] == "0111"  # leading zero kept
    software = next(item for item in classes if item["code"] == "6513")
    assert software == {
        "code": "6513",
        "name": "应用软件开发",
        "label": "6513 应用软件开发",
        "section_code": "I",
        "section": "信息传输、软件和信息技术服务业",
        "division_code": "65",
        "division": "软件和信息技术服务业",
        "group_code": "651",
        "group": "软件开发",
    }
    software["name"] = "changed"  # callers get copies, the cache stays intact
    assert reference.industry_name("6513") == "应用软件开发"


def test_choices_are_labelled_with_code_and_name():
    choices = reference.industry_choices()
    assert len(choices) == 1381
    assert ("6513", "6513 应用软件开发") in choices
    assert choices[0] == ("0111", "0111 稻谷种植")


def test_names_of_every_level():
    assert reference.industry_name("0111") == "稻谷种植"
    assert reference.industry_name("651") == "软件开发"
    assert reference.industry_name("65") == "软件和信息技术服务业"
    assert reference.industry_name("I") == "信息传输、软件和信息技术服务业"
    assert reference.industry_name("9999") == ""
    assert reference.industry_name("") == ""


def test_searching_a_word_finds_classes_by_their_own_and_their_parents_names():
    codes = [item["code"] for item in reference.search_industries("软件")]
    assert len(codes) == 20
    assert {"6511", "6512", "6513", "6519"} <= set(codes)
    # Classes named after the word come first: 5176/5273 (…软件及辅助设备…) and 6511–6519.
    assert set(codes[:6]) == {"5176", "5273", "6511", "6512", "6513", "6519"}
    everything = reference.search_industries("软件", limit=None)
    assert "6520" in {item["code"] for item in everything}  # via 大类 65's name


def test_searching_digits_matches_the_code_prefix():
    results = reference.search_industries("65")
    assert results
    assert all(item["code"].startswith("65") for item in results)
    assert len(results) == 15
    assert [item["code"] for item in reference.search_industries("651")] == [
        "6511",
        "6512",
        "6513",
        "6519",
    ]
    assert [item["code"] for item in reference.search_industries("６５１３")] == ["6513"]


def test_search_terms_combine_and_empty_queries_give_nothing():
    assert [item["code"] for item in reference.search_industries("6513 应用软件开发")] == ["6513"]
    assert [item["code"] for item in reference.search_industries("65 应用")] == ["6513"]
    assert reference.search_industries("") == []
    assert reference.search_industries("   ") == []
    assert reference.search_industries(None) == []
    assert reference.search_industries("软件", limit=3) == reference.search_industries("软件")[:3]
    assert reference.search_industries("没有这种行业") == []


# ---------------------------------------------------------------------------------------------
# Purchase intentions and fixed lists
# ---------------------------------------------------------------------------------------------


def test_the_six_areas_and_thirteen_zones():
    assert len(reference.EXHIBITION_AREAS) == 6
    assert len(reference.SPECIAL_ZONES) == 13
    assert all(zh.endswith("展区") for _s, zh, _en in reference.EXHIBITION_AREAS)
    assert all(zh.endswith("专区") for _s, zh, _en in reference.SPECIAL_ZONES)
    slugs = [slug for slug, _zh, _en in reference.EXHIBITION_AREAS + reference.SPECIAL_ZONES]
    assert len(set(slugs)) == len(slugs)
    assert [zh for _s, zh, _en in reference.EXHIBITION_AREAS] == [
        "食品及农产品展区",
        "汽车展区",
        "技术装备展区",
        "消费品展区",
        "医疗器械及医药保健展区",
        "服务贸易展区",
    ]


def test_area_labels_follow_the_active_language():
    with translation.override("zh-hans"):
        assert reference.area_label("automobile") == "汽车展区"
        assert reference.area_label("integrated_circuits") == "集成电路专区"
    with translation.override("en"):
        assert reference.area_label("automobile") == "Automobile Exhibition Area"
        assert reference.area_label("integrated_circuits") == "Integrated Circuits Zone"
        groups = reference.area_choices()
        assert str(groups[0][0]) == "Exhibition areas"
        assert ("trade_in_services", "Trade in Services Exhibition Area") in groups[0][1]
    assert reference.area_label("unknown") == ""


def test_fixed_lists_have_lazy_english_labels():
    lists = (
        reference.PURCHASE_BANDS,
        reference.CAPITAL_BANDS,
        reference.UNIT_NATURES,
        reference.IMPORT_METHODS,
    )
    for choices in lists:
        slugs = [slug for slug, _label in choices]
        assert len(set(slugs)) == len(slugs)
        assert all(isinstance(label, Promise) for _slug, label in choices)
    assert len(reference.UNIT_NATURES) == 10
    assert len(reference.CAPITAL_BANDS) == 3
    with translation.override("en"):
        bands = {slug: str(label) for slug, label in reference.PURCHASE_BANDS}
        capital = [str(label) for _slug, label in reference.CAPITAL_BANDS]
        methods = dict(reference.IMPORT_METHODS)
        assert str(methods["cross_border_ecommerce"]) == "Cross-border e-commerce"
    # 1 万 = 10,000: 100 万美元 = USD 1 million, 1000-2000 万美元 = USD 10–20 million.
    assert bands == {
        "under_100": "Under USD 1 million",
        "100_500": "USD 1–5 million",
        "500_1000": "USD 5–10 million",
        "1000_2000": "USD 10–20 million",
        "2000_5000": "USD 20–50 million",
        "over_5000": "Over USD 50 million",
    }
    assert capital == ["Under RMB 30 million", "RMB 30–100 million", "Over RMB 100 million"]


# ---------------------------------------------------------------------------------------------
# JSON look-ups
# ---------------------------------------------------------------------------------------------

DIVISIONS = "/accounts/reference/divisions/"
INDUSTRIES = "/accounts/reference/industries/"


def _assert_public_for_a_day(response):
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"public", "max-age=86400"} <= directives


def test_division_children_as_json(db, client):
    response = client.get(DIVISIONS + "440100/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    _assert_public_for_a_day(response)
    children = response.json()["children"]
    assert {"code": "440106", "name": "天河区"} in children
    assert all(set(child) == {"code", "name"} for child in children)

    zones = client.get(DIVISIONS + "320500/").json()["children"]
    assert "320576" not in {child["code"] for child in zones}  # 苏州工业园区 is hidden

    assert client.get(DIVISIONS + "441900/").json() == {"children": []}
    assert client.get(DIVISIONS + "810000/").json() == {"children": []}


def test_an_unknown_division_is_404_and_only_get_is_allowed(db, client):
    assert client.get(DIVISIONS + "999999/").status_code == 404
    assert client.get(DIVISIONS + "abc/").status_code == 404
    assert client.post(DIVISIONS + "440000/").status_code == 405


def test_industry_search_as_json(db, client):
    response = client.get(INDUSTRIES, {"q": "软件"})
    assert response.status_code == 200
    _assert_public_for_a_day(response)
    results = response.json()["results"]
    assert len(results) == 20
    assert {"code": "6513", "label": "6513 应用软件开发"} in results
    assert all(set(item) == {"code", "label"} for item in results)

    by_code = client.get(INDUSTRIES, {"q": "65"}).json()["results"]
    assert by_code and all(item["code"].startswith("65") for item in by_code)

    assert client.get(INDUSTRIES, {"q": ""}).json() == {"results": []}
    assert client.get(INDUSTRIES).json() == {"results": []}
    assert client.post(INDUSTRIES, {"q": "65"}).status_code == 405
