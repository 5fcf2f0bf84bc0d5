"""Reference data for the registration forms: administrative divisions, industries and the fixed
lists of the purchase-intention questions.

Everything here is pure Python and needs no database. The two data files in
``registration/data/`` are read lazily, once per process, on first use (``functools.cache``);
``registration/data/SOURCES.md`` records where they come from, their counts and their gaps.

* **Administrative divisions** (NBS 2023 statistical division codes, GB/T 2260 style): 34
  provinces, 342 prefecture-level entries and 2974 county-level entries, with 6-digit codes.
  124 county-level entries are NBS statistical *functional zones* (开发区, 高新区, …), which are
  not administrative divisions: :func:`children` and :func:`validate_division` leave them out
  unless asked, :func:`division_name` knows them.
* **Industries**: the 1381 classes (小类, 4-digit codes) of GB/T 4754-2017 with their section
  (门类), division (大类) and group (中类).
* **Purchase intentions** (采购意向) and the other fixed lists of the organiser's guides.

Codes are always strings: ``"440106"``, ``"0111"``. Names from the data are proper names, not
gettext msgids: their English comes with the data (``divisions_china_en.json``, made by
``python -m registration.data.build_english``; ``industry_gbt4754_2017_en.csv`` for sections and
divisions) and every function here answers in the active language (``ciie_portal.names``), the
Chinese name where there is no English one. Every other label is a ``gettext_lazy`` with an
English msgid. Searches match Chinese, pinyin, pinyin initials and English.
"""

from __future__ import annotations

import csv
import functools
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ciie_portal.names import english_active, normalise, term_in, terms, words

__all__ = [
    "CAPITAL_BANDS",
    "EXHIBITION_AREAS",
    "IMPORT_METHODS",
    "PLACEHOLDER_NAMES",
    "PURCHASE_BANDS",
    "SPECIAL_ZONES",
    "UNIT_NATURES",
    "area_choices",
    "area_label",
    "children",
    "division_name",
    "division_path",
    "industry_choices",
    "industry_classes",
    "industry_name",
    "provinces",
    "search_divisions",
    "search_industries",
    "validate_division",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DIVISIONS_FILE = DATA_DIR / "divisions_china.json"
DIVISIONS_EN_FILE = DATA_DIR / "divisions_china_en.json"
INDUSTRY_FILE = DATA_DIR / "industry_gbt4754_2017.csv"
INDUSTRY_EN_FILE = DATA_DIR / "industry_gbt4754_2017_en.csv"
INDUSTRY_PINYIN_FILE = DATA_DIR / "industry_gbt4754_2017_pinyin.json"

# ---------------------------------------------------------------------------------------------
# Administrative divisions
# ---------------------------------------------------------------------------------------------

# Prefecture-level placeholders of GB/T 2260 (the districts of 北京/天津/上海/重庆, the counties of
# 重庆, the county-level cities directly under a province or autonomous region). They are real
# nodes of the code tree, but a postal address never names them.
PLACEHOLDER_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass(frozen=True, slots=True)
class _Division:
    code: str
    name: str
    name_en: str
    level: int  # 1 province, 2 prefecture (city), 3 county (district)
    parent: str  # "" for a province
    functional_zone: bool
    children: tuple[str, ...]
    # Search keys (see ciie_portal.names.term_in): the Chinese name; its pinyin and its English
    # name, as words; the pinyin's initials.
    keys: dict[str, tuple[str, ...]]

    def found(self, term: str) -> bool:
        return term_in(term, **self.keys)

    def shown(self, english: bool | None = None) -> str:
        """The name in English or Chinese; ``None``: in the active language."""
        english = english_active() if english is None else english
        return self.name_en if english and self.name_en else self.name


@functools.cache
def _divisions() -> tuple[tuple[str, ...], dict[str, _Division]]:
    """(province codes in the file's order, every division by code)."""
    with DIVISIONS_FILE.open(encoding="utf-8") as handle:
        tree = json.load(handle)
    with DIVISIONS_EN_FILE.open(encoding="utf-8") as handle:
        english = json.load(handle)
    index: dict[str, _Division] = {}

    def add(node: dict, level: int, parent: str) -> str:
        code = node["code"]
        kids = tuple(add(child, level + 1, code) for child in node.get("children", ()))
        extra = english.get(code, {})
        name_en = extra.get("en", "")
        index[code] = _Division(
            code=code,
            name=node["name"],
            name_en=name_en,
            level=level,
            parent=parent,
            functional_zone=bool(node.get("functional_zone")),
            children=kids,
            keys={
                "chinese": (normalise(node["name"]),),
                "spaced": (extra.get("pinyin", ""), words(name_en)),
                "initials": (extra.get("initials", ""),),
            },
        )
        return code

    province_codes = tuple(add(node, 1, "") for node in tree)
    return province_codes, index


def _code(value) -> str:
    return "" if value is None else str(value).strip()


def _visible_children(division: _Division, functional_zones: bool) -> list[_Division]:
    index = _divisions()[1]
    kids = (index[code] for code in division.children)
    return [kid for kid in kids if functional_zones or not kid.functional_zone]


def provinces() -> list[tuple[str, str]]:
    """The 34 province-level divisions as ``(code, name)``, in GB/T 2260 order, named in the
    active language."""
    province_codes, index = _divisions()
    return [(code, index[code].shown()) for code in province_codes]


def children(code, *, functional_zones: bool = False) -> list[tuple[str, str]]:
    """The cities of a province or the districts of a city, as ``(code, name)``.

    Statistics-only functional zones are left out unless ``functional_zones=True``. An unknown
    code, a district, 东莞/中山/儋州/嘉峪关 and 香港/澳门/台湾 have no children: ``[]``.
    """
    division = _divisions()[1].get(_code(code))
    if division is None:
        return []
    return [(kid.code, kid.shown()) for kid in _visible_children(division, functional_zones)]


def division_name(code, *, english: bool | None = None) -> str:
    """The name of any division (functional zones included); ``""`` if the code is unknown.

    In the active language unless ``english`` says which."""
    division = _divisions()[1].get(_code(code))
    return division.shown(english) if division else ""


def division_path(province="", city="", district="", *, english: bool | None = None) -> str:
    """The names of the given divisions for display, e.g. ``"广东省 广州市 天河区"``, or in
    English, smallest first: ``"Tianhe District, Guangzhou, Guangdong"``.

    Placeholders (市辖区, 县, 省直辖县级行政区划, 自治区直辖县级行政区划) are left out, so
    ``("110000", "110100", "110105")`` gives ``"北京市 朝阳区"``. Empty and unknown codes are
    skipped. In the active language unless ``english`` says which (a courier's address is
    written in Chinese: ``english=False``).
    """
    english = english_active() if english is None else english
    index = _divisions()[1]
    found = (index.get(_code(code)) for code in (province, city, district))
    names = [node.shown(english) for node in found if node and node.name not in PLACEHOLDER_NAMES]
    return ", ".join(reversed(names)) if english else " ".join(names)


@functools.cache
def _searchable() -> tuple[_Division, ...]:
    """What the pickers offer, provinces first, then cities, then districts, in code order."""
    index = _divisions()[1]
    shown = (
        division
        for division in index.values()
        if not division.functional_zone and division.name not in PLACEHOLDER_NAMES
    )
    return tuple(sorted(shown, key=lambda division: (division.level, division.code)))


def search_divisions(query, *, limit: int | None = 20) -> list[dict[str, str]]:
    """Provinces, cities and districts found by ``query``: those whose name starts with the
    first term, then the others; in each, provinces, then cities, then districts, in GB/T 2260
    order.

    A term is found in a division's Chinese name, pinyin or English name, or starts its pinyin
    initials: ``"广州"``, ``"Guangzhou"``, ``"guangzhou"`` and ``"gz"`` all find 广州市. With
    several terms, each must be found in the division or the divisions above it, and one in the
    division itself: ``"guangzhou tianhe"`` finds 天河区 (and not every district of 广州).

    Functional zones and placeholders are left out, as in the pickers. Each result is
    ``{"code", "name", "label", "province", "city", "district"}`` in the active language:
    ``label`` is the whole path, the last three are the codes to put in the pickers.
    """
    wanted = terms(_code(query))
    if not wanted or (limit is not None and limit <= 0):
        return []
    index = _divisions()[1]

    def found_in(division: _Division) -> bool:
        if not any(division.found(term) for term in wanted):
            return False
        above = []
        code = division.parent
        while code:
            above.append(index[code])
            code = index[code].parent
        return all(any(node.found(term) for node in (division, *above)) for term in wanted)

    def starts(division: _Division) -> bool:
        first = wanted[0]
        keys = division.keys
        return any(
            key.replace(" ", "").startswith(first)
            for key in (*keys["chinese"], *keys["spaced"], *keys["initials"])
        )

    # Names that start with the first term come first (xian: 西安 before every 县, xian).
    found = sorted(
        (division for division in _searchable() if found_in(division)),
        key=lambda division: not starts(division),
    )
    results = []
    for division in found[:limit]:
        chain = [division.code]
        while index[chain[0]].parent:
            chain.insert(0, index[chain[0]].parent)
        chain += [""] * (3 - len(chain))
        results.append(
            {
                "code": division.code,
                "name": division.shown(),
                "label": division_path(*chain),
                "province": chain[0],
                "city": chain[1],
                "district": chain[2],
            }
        )
    return results


def validate_division(province, city="", district="", *, functional_zones: bool = False) -> None:
    """Check that the codes form a chain province → city → district, as the pickers offer it.

    The province is required; the city is required when the province has cities (香港, 澳门 and
    台湾 have none, so the city and district must then be empty); the district is required when
    the city has districts (东莞, 中山, 儋州 and 嘉峪关 have none). Functional zones are not
    accepted as districts unless ``functional_zones=True``, matching :func:`children`.

    Raises :class:`ValidationError`. Its ``code`` names the field at fault: ``province_required``,
    ``province_invalid``, ``city_required``, ``city_invalid``, ``city_not_allowed``,
    ``district_required``, ``district_invalid`` or ``district_not_allowed``.
    """
    province, city, district = _code(province), _code(city), _code(district)
    index = _divisions()[1]

    if not province:
        raise ValidationError(_("Choose a province."), code="province_required")
    province_node = index.get(province)
    if province_node is None or province_node.level != 1:
        raise ValidationError(_("Choose a province from the list."), code="province_invalid")

    if not province_node.children:
        if city or district:
            raise ValidationError(
                _("The selected province has no cities; leave the city and district empty."),
                code="city_not_allowed",
            )
        return
    if not city:
        raise ValidationError(_("Choose a city."), code="city_required")
    city_node = index.get(city)
    if city_node is None or city_node.parent != province:
        raise ValidationError(
            _("Choose a city of the selected province from the list."), code="city_invalid"
        )

    if not _visible_children(city_node, functional_zones):
        if district:
            raise ValidationError(
                _("The selected city has no districts; leave the district empty."),
                code="district_not_allowed",
            )
        return
    if not district:
        raise ValidationError(_("Choose a district."), code="district_required")
    district_node = index.get(district)
    if (
        district_node is None
        or district_node.parent != city
        or (district_node.functional_zone and not functional_zones)
    ):
        raise ValidationError(
            _("Choose a district of the selected city from the list."), code="district_invalid"
        )


# ---------------------------------------------------------------------------------------------
# Industries: GB/T 4754-2017 国民经济行业分类
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _IndustryClass:
    code: str
    name: str
    section_code: str
    section: str
    division_code: str
    division: str
    group_code: str
    group: str
    # English titles of the class, group, division and section ("" where there is none).
    english: tuple[str, str, str, str]
    # Search keys of the class, group, division and section names (ciie_portal.names.term_in):
    # the Chinese name (NFKC, casefolded); its pinyin and English title, as words; the initials.
    keys: tuple[dict[str, tuple[str, ...]], ...]

    @property
    def label(self) -> str:
        """``"6513 应用软件开发"``; in English, where the class has no English title, its
        division's in brackets: ``"6513 应用软件开发 (Software and Information Technology
        Services)"``."""
        if not english_active():
            return f"{self.code} {self.name}"
        own, _group, division, _section = self.english
        if own:
            return f"{self.code} {own}"
        return f"{self.code} {self.name} ({division})" if division else f"{self.code} {self.name}"

    def as_dict(self) -> dict[str, str]:
        english = english_active()

        def shown(chinese: str, level: int) -> str:
            return self.english[level] if english and self.english[level] else chinese

        return {
            "code": self.code,
            "name": shown(self.name, 0),
            "label": self.label,
            "section_code": self.section_code,
            "section": shown(self.section, 3),
            "division_code": self.division_code,
            "division": shown(self.division, 2),
            "group_code": self.group_code,
            "group": shown(self.group, 1),
        }


def _normalise(text: str) -> str:
    """Full-width digits, letters and brackets become ASCII; case is folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@functools.cache
def _industry() -> tuple[dict[str, tuple[str, str]], tuple[_IndustryClass, ...]]:
    """(the Chinese and English names of every code of every level, the 4-digit classes in the
    standard's order)."""
    with INDUSTRY_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with INDUSTRY_EN_FILE.open(encoding="utf-8", newline="") as handle:
        english = {row["code"]: row["name_en"] for row in csv.DictReader(handle)}
    with INDUSTRY_PINYIN_FILE.open(encoding="utf-8") as handle:
        pinyin = json.load(handle)
    names = {row["code"]: (row["name"], english.get(row["code"], "")) for row in rows}
    parents = {row["code"]: row["parent_code"] for row in rows}

    def keys(code: str) -> dict[str, tuple[str, ...]]:
        spelled, initials = pinyin.get(code, ("", ""))
        return {
            "chinese": (_normalise(names[code][0]),),
            "spaced": (spelled, words(names[code][1])),
            "initials": (initials,),
        }

    classes = []
    for row in rows:
        if row["level"] != "4":
            continue
        code = row["code"]
        group = parents[code]
        division = parents[group]
        section = parents[division]
        path = (code, group, division, section)
        classes.append(
            _IndustryClass(
                code=code,
                name=names[code][0],
                section_code=section,
                section=names[section][0],
                division_code=division,
                division=names[division][0],
                group_code=group,
                group=names[group][0],
                english=tuple(names[key][1] for key in path),
                keys=tuple(keys(key) for key in path),
            )
        )
    return names, tuple(classes)


def industry_classes() -> list[dict[str, str]]:
    """The 1381 classes (小类) in the standard's order, for a searchable picker.

    Each is a new dict with ``code`` (4 digits), ``name``, ``label`` (``"6513 应用软件开发"``)
    and the path: ``section_code``/``section`` (门类), ``division_code``/``division`` (大类),
    ``group_code``/``group`` (中类); names in the active language where there is an English
    title (sections and divisions), in Chinese otherwise.
    """
    return [item.as_dict() for item in _industry()[1]]


def industry_choices() -> list[tuple[str, str]]:
    """``(code, "6513 应用软件开发")`` for every class, in the standard's order (the label as
    :attr:`_IndustryClass.label` gives it in the active language)."""
    return [(item.code, item.label) for item in _industry()[1]]


def industry_name(code) -> str:
    """The name of a code of any level (``"I"``, ``"65"``, ``"651"``, ``"6513"``) in the
    active language where it has an English title; ``""`` if unknown."""
    chinese, english = _industry()[0].get(_code(code).upper(), ("", ""))
    return english if english and english_active() else chinese


def _term_rank(item: _IndustryClass, term: str) -> int | None:
    """How well one search term matches a class (lower is better), or None if it does not."""
    if term.isdigit():
        return 0 if item.code.startswith(term) else None
    if len(term) == 1 and "a" <= term <= "z":
        # A section letter (门类): A–T.
        return 3 if item.section_code.casefold() == term else None
    for rank, keys in enumerate(item.keys):
        if term_in(term, **keys):
            return rank
    return None


def search_industries(query, limit: int | None = 20) -> list[dict[str, str]]:
    """Classes matching ``query``, best first, at most ``limit`` (None: all).

    The query is split on whitespace and every term must match: digits match the start of the
    code (``"65"`` → 6511…6599), a single letter matches the section (``"I"``), other text
    matches any part of the name of the class, its group, its division or its section, in
    Chinese, pinyin, pinyin initials or English (``"软件"``, ``"ruanjian"`` or ``"software"`` →
    5176, 5273, 6511–6519, then the rest of 65 and of section I). Classes whose own name
    matches come first; ties keep the standard's order. An empty query gives ``[]``.
    Each result is a dict as in :func:`industry_classes`.
    """
    terms = _normalise(_code(query)).split()
    if not terms or (limit is not None and limit <= 0):
        return []
    scored = []
    for position, item in enumerate(_industry()[1]):
        total = 0
        for term in terms:
            rank = _term_rank(item, term)
            if rank is None:
                break
            total += rank
        else:
            scored.append((total, position, item))
    scored.sort(key=lambda entry: entry[:2])
    return [item.as_dict() for _total, _position, item in scored[:limit]]


# ---------------------------------------------------------------------------------------------
# Purchase intentions (采购意向) and the other fixed lists of the organiser's guides
# ---------------------------------------------------------------------------------------------

# The six areas of the business exhibition (企业商业展), as (slug, Chinese name, English name).
# These are the organiser's names: they are not translated through gettext; area_label() picks
# the one for the active language.
EXHIBITION_AREAS = [
    (
        "food_agricultural_products",
        "食品及农产品展区",
        "Food and Agricultural Products Exhibition Area",
    ),
    ("automobile", "汽车展区", "Automobile Exhibition Area"),
    ("technical_equipment", "技术装备展区", "Technical Equipment Exhibition Area"),
    ("consumer_goods", "消费品展区", "Consumer Goods Exhibition Area"),
    (
        "medical_healthcare",
        "医疗器械及医药保健展区",
        "Medical Equipment and Healthcare Products Exhibition Area",
    ),
    ("trade_in_services", "服务贸易展区", "Trade in Services Exhibition Area"),
]

# The special zones (专区) inside the areas, as (slug, Chinese name, English name). The slugs are
# unique across both lists.
SPECIAL_ZONES = [
    ("dairy_products", "乳制品专区", "Dairy Products Zone"),
    ("agricultural_products", "农产品专区", "Agricultural Products Zone"),
    ("smart_mobility", "智慧出行专区", "Smart Mobility Zone"),
    (
        "energy_low_carbon",
        "能源低碳及环保技术专区",
        "Energy, Low-Carbon and Environmental Protection Technologies Zone",
    ),
    ("integrated_circuits", "集成电路专区", "Integrated Circuits Zone"),
    ("digital_industry", "数字工业专区", "Digital Industry Zone"),
    ("daily_chemicals", "日化消费品专区", "Daily Chemical Consumer Goods Zone"),
    ("sporting_goods_events", "体育用品及赛事专区", "Sporting Goods and Events Zone"),
    (
        "smart_home",
        "绿色智能家电家居专区",
        "Green and Smart Home Appliances and Furnishings Zone",
    ),
    ("public_health", "公共卫生防疫专区", "Public Health and Epidemic Prevention Zone"),
    ("rehabilitation_elderly_care", "康复养老专区", "Rehabilitation and Elderly Care Zone"),
    ("biomedicine", "生物医药专区", "Biomedicine Zone"),
    ("innovation_incubation", "创新孵化专区", "Innovation Incubation Zone"),
]

_AREA_NAMES = {slug: (zh, en) for slug, zh, en in EXHIBITION_AREAS + SPECIAL_ZONES}


def area_label(slug) -> str:
    """The name of an exhibition area or special zone in the active language (Chinese for
    zh-hans, English otherwise); ``""`` for an unknown slug."""
    names = _AREA_NAMES.get(slug)
    if names is None:
        return ""
    return names[1] if english_active() else names[0]


def area_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices (areas, then zones) labelled in the active language.

    Give a form field the function itself (``forms.MultipleChoiceField(choices=area_choices)``)
    so that the labels follow the language of each request.
    """
    return [
        (_("Exhibition areas"), [(slug, area_label(slug)) for slug, _zh, _en in EXHIBITION_AREAS]),
        (_("Special zones"), [(slug, area_label(slug)) for slug, _zh, _en in SPECIAL_ZONES]),
    ]


# Intended import purchases over 1 year and over 5 years. The guides count in 万美元
# (1 万 = 10,000, so 100 万美元 = USD 1 million); the slugs keep the guides' 万美元 figures.
PURCHASE_BANDS = [
    ("under_100", _("Under USD 1 million")),  # 100万美元以下
    ("100_500", _("USD 1–5 million")),  # 100-500万美元
    ("500_1000", _("USD 5–10 million")),  # 500-1000万美元
    ("1000_2000", _("USD 10–20 million")),  # 1000-2000万美元
    ("2000_5000", _("USD 20–50 million")),  # 2000-5000万美元
    ("over_5000", _("Over USD 50 million")),  # 5000万美元以上
]

# Registered capital (注册资本).
CAPITAL_BANDS = [
    ("under_30m", _("Under RMB 30 million")),  # 人民币3000万元以下
    ("30m_100m", _("RMB 30–100 million")),  # 人民币3000万元-1亿元
    ("over_100m", _("Over RMB 100 million")),  # 人民币1亿元以上
]

# Nature of the unit (单位性质).
UNIT_NATURES = [
    ("state_owned", _("State-owned enterprise")),  # 国有企业
    ("collective", _("Collective enterprise")),  # 集体企业
    ("private", _("Private enterprise")),  # 私营企业
    ("foreign_invested", _("Foreign-invested enterprise")),  # 外商投资企业
    ("hmt_invested", _("Hong Kong, Macao or Taiwan-invested enterprise")),  # 港澳台投资企业
    ("individual_business", _("Individual business")),  # 个体工商户
    ("public_institution", _("Public institution")),  # 事业单位
    ("social_association", _("Social association")),  # 社会团体
    ("government", _("Government body")),  # 政府机关
    ("other", _("Other")),  # 其他
]

# How the unit imports (进口方式).
IMPORT_METHODS = [
    ("general_trade", _("General trade")),  # 一般贸易
    ("processing_trade", _("Processing trade")),  # 加工贸易
    ("cross_border_ecommerce", _("Cross-border e-commerce")),  # 跨境电商
    ("other", _("Other")),  # 其他
]
