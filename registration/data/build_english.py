"""Builds the English names and pinyin search keys of the reference data, once, into data files
that ship with the code (so the portal itself never runs pypinyin on them):

* ``divisions_china_en.json``: for every code of ``divisions_china.json``, its English name, the
  pinyin of its Chinese name (syllables separated by spaces) and the pinyin's initials;
* ``industry_gbt4754_2017_pinyin.json``: the same pinyin keys for every code of
  ``industry_gbt4754_2017.csv`` (the English titles are in ``industry_gbt4754_2017_en.csv``,
  kept by hand, see SOURCES.md).

Run from the project root after changing a source file or a rule below::

    .venv/bin/python -m registration.data.build_english

English names: the official ones for provinces and for the places listed in ``OFFICIAL``;
Hanyu Pinyin otherwise, with the administrative suffix translated (广州市 → Guangzhou, 天河区 →
Tianhe District, 新疆维吾尔自治区 → Xinjiang Uygur Autonomous Region).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pypinyin import lazy_pinyin

DATA_DIR = Path(__file__).resolve().parent
DIVISIONS = DATA_DIR / "divisions_china.json"
DIVISIONS_EN = DATA_DIR / "divisions_china_en.json"
INDUSTRY = DATA_DIR / "industry_gbt4754_2017.csv"
INDUSTRY_PINYIN = DATA_DIR / "industry_gbt4754_2017_pinyin.json"

# The provinces as the Chinese government writes them in English.
PROVINCES = {
    "110000": "Beijing",
    "120000": "Tianjin",
    "130000": "Hebei",
    "140000": "Shanxi",
    "150000": "Inner Mongolia Autonomous Region",
    "210000": "Liaoning",
    "220000": "Jilin",
    "230000": "Heilongjiang",
    "310000": "Shanghai",
    "320000": "Jiangsu",
    "330000": "Zhejiang",
    "340000": "Anhui",
    "350000": "Fujian",
    "360000": "Jiangxi",
    "370000": "Shandong",
    "410000": "Henan",
    "420000": "Hubei",
    "430000": "Hunan",
    "440000": "Guangdong",
    "450000": "Guangxi Zhuang Autonomous Region",
    "460000": "Hainan",
    "500000": "Chongqing",
    "510000": "Sichuan",
    "520000": "Guizhou",
    "530000": "Yunnan",
    "540000": "Xizang (Tibet) Autonomous Region",
    "610000": "Shaanxi",  # the official spelling, not Shanxi (140000)
    "620000": "Gansu",
    "630000": "Qinghai",
    "640000": "Ningxia Hui Autonomous Region",
    "650000": "Xinjiang Uygur Autonomous Region",
    "710000": "Taiwan",
    "810000": "Hong Kong SAR",
    "820000": "Macao SAR",
}

# Names whose usual English is not the pinyin of their characters, or whose characters pypinyin
# reads wrongly in this name (单县 is Shan County, 长子县 Zhangzi County, 闵行区 Minhang District).
OFFICIAL = {
    "浦东新区": "Pudong New Area",
    "滨海新区": "Binhai New Area",
    "神农架林区": "Shennongjia Forestry District",
    "六枝特区": "Liuzhi Special District",
    "长子县": "Zhangzi County",
    "单县": "Shan County",
    "闵行区": "Minhang District",
    "南乐县": "Nanle County",
    "博尔塔拉蒙古自治州": "Bortala Mongol Autonomous Prefecture",
    "巴音郭楞蒙古自治州": "Bayingolin Mongol Autonomous Prefecture",
    "克孜勒苏柯尔克孜自治州": "Kizilsu Kirgiz Autonomous Prefecture",
    "伊犁哈萨克自治州": "Ili Kazak Autonomous Prefecture",
    "喀什地区": "Kashgar Prefecture",
    "喀什市": "Kashgar",
    "乌鲁木齐市": "Urumqi",
    "呼和浩特市": "Hohhot",
}

# How a character is read in place names where pypinyin, reading it as a word, is wrong more
# often than not (成都 Chengdu, 长宁 Changning, 朝阳 Chaoyang, 蚌埠 Bengbu, 马尾 Mawei).
READINGS = {"都": "du", "长": "chang", "朝": "chao", "蚌": "beng", "尾": "wei", "曾": "zeng"}

PLACEHOLDERS = {
    "市辖区": "City districts",
    "县": "Counties",
    "省直辖县级行政区划": "County-level divisions under the province",
    "自治区直辖县级行政区划": "County-level divisions under the autonomous region",
}

# Peoples named in autonomous prefectures, counties and banners, as written in their English
# names (GB/T 3304 romanisation).
PEOPLES = {
    "蒙古": "Mongol",
    "回": "Hui",
    "藏": "Tibetan",
    "维吾尔": "Uygur",
    "苗": "Miao",
    "彝": "Yi",
    "壮": "Zhuang",
    "布依": "Bouyei",
    "朝鲜": "Korean",
    "满": "Manchu",
    "侗": "Dong",
    "瑶": "Yao",
    "白": "Bai",
    "土家": "Tujia",
    "哈尼": "Hani",
    "哈萨克": "Kazak",
    "傣": "Dai",
    "黎": "Li",
    "傈僳": "Lisu",
    "佤": "Va",
    "畲": "She",
    "拉祜": "Lahu",
    "水": "Shui",
    "东乡": "Dongxiang",
    "纳西": "Naxi",
    "景颇": "Jingpo",
    "柯尔克孜": "Kirgiz",
    "土": "Tu",
    "达斡尔": "Daur",
    "仫佬": "Mulao",
    "羌": "Qiang",
    "布朗": "Blang",
    "撒拉": "Salar",
    "毛南": "Maonan",
    "仡佬": "Gelao",
    "锡伯": "Xibe",
    "普米": "Pumi",
    "塔吉克": "Tajik",
    "怒": "Nu",
    "鄂温克": "Ewenki",
    "保安": "Bonan",
    "裕固": "Yugur",
    "独龙": "Derung",
    "鄂伦春": "Oroqen",
    "各": "Various Ethnic Groups",
}

AUTONOMOUS = {
    "自治区": "Autonomous Region",
    "自治州": "Autonomous Prefecture",
    "自治县": "Autonomous County",
    "自治旗": "Autonomous Banner",
}

# Statistical functional zones: their kind, longest first.
ZONES = [
    ("经济技术开发区", "Economic and Technological Development Zone"),
    ("高新技术产业开发区", "High-tech Industrial Development Zone"),
    ("高新技术开发区", "High-tech Development Zone"),
    ("高新区", "High-tech Zone"),
    ("经济开发区", "Economic Development Zone"),
    ("工业园区", "Industrial Park"),
    ("开发区", "Development Zone"),
    ("风景名胜区", "Scenic Area"),
    ("管理区", "Administrative Zone"),
    ("园区", "Park"),
    ("新区", "New Area"),
]

# County-level and prefecture-level kinds, longest first.
KINDS = [
    ("行政委员会", "Administrative Committee"),
    ("林区", "Forestry District"),
    ("特区", "Special District"),
    ("新区", "New Area"),
    ("地区", "Prefecture"),
    ("盟", "League"),
    ("旗", "Banner"),
    ("县", "County"),
    ("区", "District"),
    ("市", ""),
]


def _syllables(chinese: str, *, v_to_u: bool = True) -> list[str]:
    """One pinyin syllable per character, read in context (phrases of the whole name)."""
    read = lazy_pinyin(chinese, v_to_u=v_to_u, errors=lambda chars: list(chars))
    if len(read) != len(chinese):
        return read
    return [READINGS.get(char, syllable) for char, syllable in zip(chinese, read, strict=True)]


def _proper(syllables: list[str]) -> str:
    """``["xi", "an"]`` → ``Xi'an``: one word, capitalised, an apostrophe before a, o or e."""
    word = ""
    for position, syllable in enumerate(syllables):
        if position and syllable[:1] in ("a", "o", "e"):
            word += "'"
        word += syllable
    return word[:1].upper() + word[1:]


def _pinyin_of(name: str, part_length: int) -> str:
    return _proper(_syllables(name)[:part_length])


def _autonomous(name: str) -> str | None:
    suffix = next((suffix for suffix in AUTONOMOUS if name.endswith(suffix)), None)
    if suffix is None:
        return None
    kind = AUTONOMOUS[suffix]
    rest = name[: -len(suffix)]
    peoples = []
    while True:
        for chinese in sorted(PEOPLES, key=len, reverse=True):
            # 蒙古, 哈萨克 and the like are also written without 族; one character never is.
            forms = (chinese + "族", chinese) if len(chinese) > 1 else (chinese + "族",)
            for form in forms:
                # 鄂伦春自治旗 is named after its people alone.
                if rest.endswith(form) and (len(rest) > len(form) or not peoples):
                    peoples.insert(0, PEOPLES[chinese])
                    rest = rest[: -len(form)]
                    break
            else:
                continue
            break
        else:
            break
    if not peoples:
        return None
    listed = peoples[0] if len(peoples) == 1 else ", ".join(peoples[:-1]) + " and " + peoples[-1]
    place = _pinyin_of(name, len(rest)) if rest else ""
    return f"{place} {listed} {kind}".strip()


def english_name(code: str, name: str, *, level: int, functional_zone: bool = False) -> str:
    """The English name of one division (see the module's docstring)."""
    if level == 1:
        return PROVINCES[code]
    if name in OFFICIAL:
        return OFFICIAL[name]
    if name in PLACEHOLDERS:
        return PLACEHOLDERS[name]
    autonomous = _autonomous(name)
    if autonomous:
        return autonomous
    kinds = ZONES if functional_zone else KINDS
    for suffix, kind in kinds:
        if name.endswith(suffix) and len(name) > len(suffix):
            place = _pinyin_of(name, len(name) - len(suffix))
            return f"{place} {kind}" if kind else place
    return _proper(_syllables(name))


def pinyin_keys(name: str) -> tuple[str, str]:
    """(the syllables of the whole name's pinyin separated by spaces, their initials), lower case,
    ü as v: ``广州市`` → ``("guang zhou shi", "gzs")``."""
    syllables = [s for s in _syllables(name, v_to_u=False) if s.isascii() and s.isalpha()]
    return " ".join(syllables), "".join(syllable[0] for syllable in syllables)


def build_divisions() -> dict[str, dict[str, str]]:
    with DIVISIONS.open(encoding="utf-8") as handle:
        tree = json.load(handle)
    out: dict[str, dict[str, str]] = {}

    def add(node: dict, level: int) -> None:
        pinyin, initials = pinyin_keys(node["name"])
        out[node["code"]] = {
            "en": english_name(
                node["code"],
                node["name"],
                level=level,
                functional_zone=bool(node.get("functional_zone")),
            ),
            "pinyin": pinyin,
            "initials": initials,
        }
        for child in node.get("children", ()):
            add(child, level + 1)

    for province in tree:
        add(province, 1)
    return out


def build_industry_pinyin() -> dict[str, list[str]]:
    with INDUSTRY.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: list(pinyin_keys(row["name"])) for row in csv.DictReader(handle)}


def _write(path: Path, data: dict) -> None:
    # One entry a line, so that a change of rule reads well in a diff.
    lines = [
        f"{json.dumps(key, ensure_ascii=False)}:{json.dumps(value, ensure_ascii=False)}"
        for key, value in data.items()
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def main() -> None:
    _write(DIVISIONS_EN, build_divisions())
    _write(INDUSTRY_PINYIN, build_industry_pinyin())
    print(f"wrote {DIVISIONS_EN.name} and {INDUSTRY_PINYIN.name}")


if __name__ == "__main__":
    main()
