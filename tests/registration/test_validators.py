"""Tests for registration.validators.

The fixed numbers below were checked independently of the module: by hand for the two worked
examples, and for the rest with the small re-implementations ``_gb32100_check`` and
``_gb11643_check`` in this file, which use different formulations of the standards than the
module does. A broken module therefore cannot make its own tests pass.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from registration.validators import (
    ID_TYPES,
    mask_id,
    normalize_id,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_sex,
    uscc_check_char,
    validate_home_return_permit,
    validate_id_number,
    validate_passport,
    validate_resident_id,
    validate_taiwan_permit,
    validate_uscc,
)

# --- independent re-implementations ------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _gb32100_check(first17: str) -> str:
    """The check character is the one that makes the weighted sum of all 18 a multiple of 31."""
    total = sum(_USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    (check,) = (c for c in _USCC_ALPHABET if (total + _USCC_ALPHABET.index(c)) % 31 == 0)
    return check


def _gb11643_check(first17: str) -> str:
    """GB 11643 as written in the standard: W_i = 2^(i-1) mod 11, i counted from the right."""
    total = sum(int(d) * (2 ** (18 - pos) % 11) for pos, d in enumerate(first17, start=1))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _resident_id(first17: str) -> str:
    return first17 + _gb11643_check(first17)


def _flip_last(number: str, alphabet: str) -> str:
    """Return ``number`` with its last character replaced by another one of ``alphabet``."""
    return number[:-1] + next(c for c in alphabet if c != number[-1])


def assert_refused(call, code: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.code == code
    assert info.value.messages
    assert info.value.messages[0].strip()
    return info.value


# --- normalize_id -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("  110105 1949 1231 002X\n", "11010519491231002X"),
        ("\u3000110105\u300019491231002X\u3000", "11010519491231002X"),  # ideographic spaces
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),  # full-width input
        ("9135\u200b0100m000100y43", "91350100M000100Y43"),  # zero-width space from a paste
        ("h1234567801", "H1234567801"),
        ("e\t12345678", "E12345678"),
        ("", ""),
    ],
)
def test_it_normalizes_ids(raw, expected):
    assert normalize_id(raw) == expected


def test_it_normalizes_none_to_an_empty_string():
    assert normalize_id(None) == ""


# --- Unified Social Credit Code -----------------------------------------------------------------

VALID_USCCS = [
    # Worked by hand: 9·1 + 1·3 + 3·9 + 5·27 + 1·26 + M(21)·20 + 1·8 + Y(30)·30 + 4·28 = 1640;
    # 1640 mod 31 = 28; (31 - 28) mod 31 = 3 → "3".
    "91350100M000100Y43",
    "91110000802100433B",
    "91310000MA1FL0QX23",  # enterprise, Shanghai, post-2015 "MA" identifier
    "91440300MA5DC0BR2D",  # enterprise, Shenzhen
    "92440101MA59UJ7W2N",  # individual business (个体工商户)
    "93350121MA2Y3K5P1D",  # farmers' cooperative registered by market regulation
    "11100000000013127D",  # authority 1: government body (机关)
    "12100000400000624D",  # authority 1: public institution (事业单位)
    "123100004250061179",  # check character 9, public institution in Shanghai
    "311100007178000470",  # authority 3, check character 0
    "51100000500020397N",  # authority 5: social organisation (社会团体)
    "52440300MJL1234565",  # authority 5: private non-enterprise unit
    "53100000500021676K",  # authority 5: foundation
    "71110000MD01234599",  # authority 7
    "81310115MC0987654C",  # authority 8: trade union
    "N2350121MA2XN7W1LK",  # authority N: agriculture (farmers' cooperative)
    "N1330106MA28A3TQ06",  # authority N: rural collective economic organisation
    "Y1110108MA01CK3R94",  # authority Y: other
    "A1310104MA1FR6U8BA",  # authority A: religious affairs
    "G1500000MB1234567T",  # authority G: tourism
]


@pytest.mark.parametrize("code", VALID_USCCS)
def test_the_fixed_valid_usccs_are_valid_by_an_independent_check(code):
    assert _gb32100_check(code[:17]) == code[17]


@pytest.mark.parametrize("code", VALID_USCCS)
def test_it_accepts_valid_usccs(code):
    validate_uscc(code)


@pytest.mark.parametrize("code", VALID_USCCS)
def test_it_computes_the_uscc_check_char(code):
    assert uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    "code",
    [
        "91350100m000100y43",
        " 9135 0100 M000 100Y 43 ",
        "９１３５０１００Ｍ０００１００Ｙ４３",
        "\u300091110000802100433b\u3000",
    ],
)
def test_it_accepts_usccs_typed_loosely(code):
    validate_uscc(code)


@pytest.mark.parametrize(
    "first17",
    [
        # Every authority the standard and its amendments use, with assorted bodies.
        f"{authority}{category}{region}{body}"
        for authority, category in [
            ("1", "1"),
            ("1", "2"),
            ("1", "9"),
            ("5", "1"),
            ("5", "2"),
            ("5", "3"),
            ("9", "1"),
            ("9", "2"),
            ("9", "3"),
            ("N", "1"),
            ("N", "2"),
            ("Y", "1"),
            ("A", "1"),
            ("G", "1"),
        ]
        for region, body in [
            ("110105", "MA0000001"),
            ("440300", "X1Y2W3U4T"),
            ("650102", "500000012"),
        ]
    ],
)
def test_it_accepts_usccs_of_any_authority_with_a_right_check_char(first17):
    validate_uscc(first17 + _gb32100_check(first17))


@pytest.mark.parametrize(
    "code",
    [
        "",
        "9135010",
        "91350100M000100Y4",  # 17
        "91350100M000100Y433",  # 19
        "310000000012345",  # old 15-digit business registration number
        "91350100-M000100Y43",  # hyphenated: 19 characters
    ],
)
def test_it_refuses_usccs_of_the_wrong_length(code):
    assert_refused(lambda: validate_uscc(code), "uscc_length")


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("91350100I000100Y43", ["I"]),
        ("91350100O000100Y43", ["O"]),
        ("91350100Z000100Y43", ["Z"]),
        ("91350100S000100Y43", ["S"]),
        ("91350100V000100Y43", ["V"]),
        ("9135010OMOOO1OOY43", ["O"]),
        ("91350100M0I0S00Y4Z", ["I", "S", "Z"]),
        ("91350100M000100Y4.", ["."]),
        ("91350100M000100Y4é", ["É"]),
    ],
)
def test_it_refuses_usccs_with_illegal_characters_and_names_them(code, named):
    error = assert_refused(lambda: validate_uscc(code), "uscc_characters")
    for char in named:
        assert char in error.messages[0]


@pytest.mark.parametrize(
    "code",
    [_flip_last(code, _USCC_ALPHABET) for code in VALID_USCCS]
    + [
        "91350100M000100Y44",
        "91110000802100433C",
        "91350100M000100Y34",  # last two swapped
        "19350100M000100Y43",  # first two swapped
        "91350100M000010Y43",  # adjacent digits swapped
    ],
)
def test_it_refuses_usccs_with_a_wrong_check_char(code):
    assert_refused(lambda: validate_uscc(code), "uscc_check_char")


@pytest.mark.parametrize(
    "first17", ["", "91350100M000100Y", "91350100M000100Y4Z", "9135010OM00010OY4"]
)
def test_uscc_check_char_rejects_malformed_input(first17):
    with pytest.raises(ValueError):
        uscc_check_char(first17)


# --- GB 11643 numbers ----------------------------------------------------------------------------

VALID_RESIDENT_IDS = [
    # Worked by hand: weighted sum 167, 167 mod 11 = 2 → "10X98765432"[2] = "X".
    "11010519491231002X",
    "440524198001010013",
    "310104198512125713",
    "510107200002290029",  # 29 February of a leap year
    "65010219700101123X",
    "210202199912310882",
    "460005201007150043",
    "54010219900101002X",
    "110105190001010036",  # earliest accepted birth date
]
VALID_HMT_RESIDENCE_PERMITS = [
    "810000199408230021",  # Hong Kong
    "820000200009100032",  # Macao
    "830000199201300022",  # Taiwan
]
VALID_FOREIGNER_PR_CARDS = [
    "931840198001011239",  # issued in Shanghai (31), nationality 840
    "911276197512240020",  # Beijing (11), 276
    "944392199006150316",  # Guangdong (44), 392
    "953356201203010078",  # Yunnan (53), 356
]
ALL_VALID_GB11643 = VALID_RESIDENT_IDS + VALID_HMT_RESIDENCE_PERMITS + VALID_FOREIGNER_PR_CARDS


@pytest.mark.parametrize("number", ALL_VALID_GB11643)
def test_the_fixed_valid_gb11643_numbers_are_valid_by_an_independent_check(number):
    assert _gb11643_check(number[:17]) == number[17]


@pytest.mark.parametrize("number", ALL_VALID_GB11643)
def test_it_accepts_valid_gb11643_numbers(number):
    validate_resident_id(number)


@pytest.mark.parametrize("number", [*ALL_VALID_GB11643, "710000198001010010"])
def test_it_computes_the_resident_id_check_char(number):
    assert resident_id_check_char(number[:17]) == number[17]


@pytest.mark.parametrize(
    "number",
    ["11010519491231002x", " 110105 19491231 002x ", "１１０１０５１９４９１２３１００２ｘ"],
)
def test_it_accepts_a_lowercase_x_and_loose_typing(number):
    validate_resident_id(number)
    assert normalize_id(number) == "11010519491231002X"


@pytest.mark.parametrize(
    "province",
    sorted(
        {f"{n}" for n in range(11, 16)}
        | {"21", "22", "23"}
        | {f"{n}" for n in range(31, 38)}
        | {f"{n}" for n in range(41, 47)}
        | {f"{n}" for n in range(50, 55)}
        | {f"{n}" for n in range(61, 66)}
        | {"71", "81", "82", "83"}
    ),
)
def test_it_accepts_every_province_code(province):
    validate_resident_id(_resident_id(f"{province}010219880715015"))


def test_it_accepts_a_birth_date_of_recent_years():
    validate_resident_id(_resident_id("32010220200101001"))


@pytest.mark.parametrize(
    "number",
    [
        "",
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "110105491231002",  # old 15-digit first-generation number
        "1101051949123100X2",  # X not in last position
        "11010519491231002Y",
        "11010519491231O02X",  # letter O instead of zero
        "11010519491231002-",
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits are digits, but not ASCII
    ],
)
def test_it_refuses_malformed_resident_ids(number):
    assert_refused(lambda: validate_resident_id(number), "resident_id_format")


@pytest.mark.parametrize(
    "number",
    [
        "000105199001010015",  # region 00
        "100105199001010019",  # region 10
        "660101199001010012",  # region 66 is not a province code
        _resident_id("16010119900101001"),
        _resident_id("24010119900101001"),
        _resident_id("38010119900101001"),
        _resident_id("47010119900101001"),
        _resident_id("55010119900101001"),
        _resident_id("70010119900101001"),
        _resident_id("84010119900101001"),
        "999840198001011237",  # foreigner card with issuing province 99
        "900840198001011232",  # foreigner card with issuing province 00
        "981840198001011238",  # foreigner cards are issued on the mainland, not under 81
    ],
)
def test_it_refuses_resident_ids_with_an_invalid_region(number):
    assert _gb11643_check(number[:17]) == number[17]  # only the region is wrong
    assert_refused(lambda: validate_resident_id(number), "resident_id_region")


def _future_number() -> str:
    return _resident_id(f"110105{datetime.date.today().year + 1}0101001")


@pytest.mark.parametrize(
    "number",
    [
        "11010519900230001X",  # 30 February
        "110105190002290017",  # 29 February 1900 (not a leap year)
        "110105189912310015",  # before 1900
        "440524198013010010",  # month 13
        "440524198001000018",  # day 00
        _resident_id("44052419800431001"),  # 31 April
        _resident_id("44052419800001001"),  # month 00
        _resident_id("44052418800101001"),  # 1880
        _resident_id("81000020990101002"),  # residence permit with a future date
        _resident_id("93184021000101123"),  # foreigner card born in 2100
    ],
)
def test_it_refuses_resident_ids_with_an_invalid_birth_date(number):
    assert _gb11643_check(number[:17]) == number[17]  # only the date is wrong
    assert_refused(lambda: validate_resident_id(number), "resident_id_birth_date")


def test_it_refuses_a_birth_date_in_the_future():
    assert_refused(lambda: validate_resident_id(_future_number()), "resident_id_birth_date")


@pytest.mark.parametrize(
    "number",
    [_flip_last(number, "0123456789X") for number in ALL_VALID_GB11643]
    + [
        "110105194912310021",  # X replaced by 1
        "110105194912310020",
        "11010519491231020X",  # sequence digits swapped
        "440524198001010014",
        "810000199408230022",
        "931840198001011230",
    ],
)
def test_it_refuses_resident_ids_with_a_wrong_check_digit(number):
    assert_refused(lambda: validate_resident_id(number), "resident_id_check_digit")


@pytest.mark.parametrize(
    "first17", ["", "1101051949123100", "1101051949123100X", "110105194912310021"]
)
def test_resident_id_check_char_rejects_malformed_input(first17):
    with pytest.raises(ValueError):
        resident_id_check_char(first17)


@pytest.mark.parametrize(
    ("number", "born"),
    [
        ("11010519491231002X", datetime.date(1949, 12, 31)),
        ("510107200002290029", datetime.date(2000, 2, 29)),
        ("830000199201300022", datetime.date(1992, 1, 30)),
        ("931840198001011239", datetime.date(1980, 1, 1)),
        ("11010519491231002x", datetime.date(1949, 12, 31)),
    ],
)
def test_it_reads_the_birth_date(number, born):
    assert resident_id_birth_date(number) == born


@pytest.mark.parametrize("number", ["11010519900230001X", "1101051949123100", ""])
def test_it_refuses_to_read_a_birth_date_that_is_not_there(number):
    with pytest.raises(ValueError):
        resident_id_birth_date(number)


@pytest.mark.parametrize(
    ("number", "sex"),
    [
        ("11010519491231002X", "F"),  # 17th digit 2
        ("440524198001010013", "M"),  # 1
        ("310104198512125713", "M"),  # 1
        ("210202199912310882", "F"),  # 8
        ("65010219700101123X", "M"),  # 3
        ("820000200009100032", "M"),  # 3
        ("810000199408230021", "F"),  # 2
        ("110105190001010036", "M"),  # 3
    ],
)
def test_it_reads_the_sex(number, sex):
    assert resident_id_sex(number) == sex


@pytest.mark.parametrize("number", ["", "1101051949123100", "1101051949123100X2"])
def test_it_refuses_to_read_the_sex_of_a_malformed_number(number):
    with pytest.raises(ValueError):
        resident_id_sex(number)


# --- travel permits and passports ---------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["H1234567801", "M1234567800", "H12345678", "M87654321", "h0123456712", " H 12345678 "],
)
def test_it_accepts_home_return_permits(number):
    validate_home_return_permit(number)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "H1234567",  # 7 digits
        "H123456789",  # 9 digits
        "H123456780",
        "H123456780123",  # 12 digits
        "K12345678",  # wrong letter
        "12345678",  # no letter
        "1234567801",
        "HM12345678",
        "H1234567A01",
        "H12345678(01)",
    ],
)
def test_it_refuses_malformed_home_return_permits(number):
    assert_refused(lambda: validate_home_return_permit(number), "home_return_permit_format")


@pytest.mark.parametrize(
    "number", ["12345678", "00112233", "1234567890", " 0912 3456 ", "８７６５４３２１"]
)
def test_it_accepts_taiwan_permits(number):
    validate_taiwan_permit(number)


@pytest.mark.parametrize(
    "number", ["", "1234567", "123456789", "12345678901", "T1234567", "12345678(B)", "1234567A"]
)
def test_it_refuses_malformed_taiwan_permits(number):
    assert_refused(lambda: validate_taiwan_permit(number), "taiwan_permit_format")


@pytest.mark.parametrize(
    "number",
    [
        "E12345678",  # Chinese e-passport
        "EA1234567",
        "G12345678",
        "505123456",  # United States (digits only)
        "C01X00T47",  # Germany
        "TR1234567",  # Japan
        "L898902C3",  # the ICAO 9303 specimen
        "M1234567",  # Korea
        "12345",  # shortest accepted
        "AB1234567890CDEFG",  # longest accepted (17)
        "e 1234 5678",
    ],
)
def test_it_accepts_passports(number):
    validate_passport(number)


@pytest.mark.parametrize("number", ["", "1234", "A12", "AB1234567890CDEFGH", "1" * 20])
def test_it_refuses_passports_of_the_wrong_length(number):
    error = assert_refused(lambda: validate_passport(number), "passport_length")
    assert "5" in error.messages[0] and "17" in error.messages[0]


@pytest.mark.parametrize(
    "number", ["E1234-5678", "E12345678.", "P<12345678", "Ä1234567", "护照123456"]
)
def test_it_refuses_passports_with_illegal_characters(number):
    assert_refused(lambda: validate_passport(number), "passport_characters")


@pytest.mark.parametrize("number", ["ABCDEFGH", "SMITHJOHN", "CHINA"])
def test_it_refuses_passports_without_a_digit(number):
    assert_refused(lambda: validate_passport(number), "passport_digit")


# --- dispatcher ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "number"),
    [("resident_id", n) for n in VALID_RESIDENT_IDS]
    + [("hmt_residence_permit", n) for n in VALID_HMT_RESIDENCE_PERMITS]
    + [("foreigner_pr_card", n) for n in VALID_FOREIGNER_PR_CARDS]
    + [
        ("resident_id", "11010519491231002x"),
        ("home_return_permit", "H1234567801"),
        ("home_return_permit", "M12345678"),
        ("taiwan_permit", "12345678"),
        ("taiwan_permit", "1234567890"),
        ("passport", "E12345678"),
    ],
)
def test_it_accepts_numbers_of_the_stated_type(id_type, number):
    validate_id_number(id_type, number)


@pytest.mark.parametrize(
    ("id_type", "number", "code"),
    [
        ("resident_id", n, "resident_id_not_mainland")
        for n in [*VALID_HMT_RESIDENCE_PERMITS, *VALID_FOREIGNER_PR_CARDS, "710000198001010010"]
    ]
    + [
        ("hmt_residence_permit", n, "hmt_residence_permit_prefix")
        for n in [
            *VALID_RESIDENT_IDS,
            *VALID_FOREIGNER_PR_CARDS,
            "710000198001010010",
            _resident_id("81010019900101002"),  # region 81 but not the permit's address code
        ]
    ]
    + [
        ("foreigner_pr_card", n, "foreigner_pr_card_prefix")
        for n in [*VALID_RESIDENT_IDS, *VALID_HMT_RESIDENCE_PERMITS]
    ]
    + [
        ("resident_id", "11010519491231002", "resident_id_format"),
        ("resident_id", "110105194912310021", "resident_id_check_digit"),
        ("hmt_residence_permit", "810000199408230022", "resident_id_check_digit"),
        ("foreigner_pr_card", "900840198001011232", "resident_id_region"),
        ("home_return_permit", "11010519491231002X", "home_return_permit_format"),
        ("taiwan_permit", "H1234567801", "taiwan_permit_format"),
        ("passport", "SMITHJOHN", "passport_digit"),
    ],
)
def test_it_refuses_numbers_that_are_not_of_the_stated_type(id_type, number, code):
    assert_refused(lambda: validate_id_number(id_type, number), code)


@pytest.mark.parametrize("id_type", ["", "id_card", "RESIDENT_ID", "uscc"])
def test_it_refuses_unknown_id_types_with_a_value_error(id_type):
    with pytest.raises(ValueError):
        validate_id_number(id_type, "11010519491231002X")


def test_it_lists_the_id_types():
    assert set(ID_TYPES) == {
        "resident_id",
        "hmt_residence_permit",
        "foreigner_pr_card",
        "home_return_permit",
        "taiwan_permit",
        "passport",
    }


# --- mask_id ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("440524198001010013", "440****013"),
        ("11010519491231002x", "110****02X"),
        ("91350100M000100Y43", "913****Y43"),
        ("H1234567801", "H12****801"),
        ("E12345678", "E12****678"),
        ("1234567", "123****567"),
        ("123456", "****56"),
        ("A1234", "***34"),
        ("AB", "**"),
        ("", ""),
    ],
)
def test_it_masks_ids(value, masked):
    assert mask_id(value) == masked
