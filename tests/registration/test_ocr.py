"""Reading the unit name and the USCC from a business licence image.

The images are rendered here with Pillow in Noto Sans CJK rather than committed as binary
fixtures. Tests that run Tesseract are skipped when it (or its chi_sim data) is not installed;
the text-extraction tests run everywhere.
"""

import glob
import io
import logging

import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageFont

from registration import ocr
from registration.ocr import LicenceReading, extract_name, extract_uscc, read_business_licence
from registration.validators import USCC_CHARSET, uscc_check_char

NAME = "广州示范贸易有限公司"
USCC_BODY = "91440101MA59ABCD1"
USCC = USCC_BODY + uscc_check_char(USCC_BODY)
# Same first 17 characters, any other last one: the check fails.
BAD_USCC = USCC_BODY + USCC_CHARSET[(USCC_CHARSET.index(USCC[-1]) + 1) % len(USCC_CHARSET)]

needs_ocr = pytest.mark.skipif(
    not ocr.ocr_available(),
    reason="Tesseract with the chi_sim language is not installed "
    "(apt-get install tesseract-ocr tesseract-ocr-chi-sim)",
)

# ---------------------------------------------------------------------------------------------
# Rendering a licence
# ---------------------------------------------------------------------------------------------

_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/**/NotoSansCJK*-Regular.tt[cf]",
    "/usr/share/fonts/**/NotoSansSC-Regular.[ot]tf",
)


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK, Simplified Chinese face; skips the test when the font is not installed."""
    for pattern in _FONT_GLOBS:
        for path in glob.glob(pattern, recursive=True):
            # A .ttc holds the JP, KR, SC, TC and HK faces; the SC one has the mainland glyphs.
            for index in range(10):
                try:
                    font = ImageFont.truetype(path, size, index=index)
                except OSError:
                    break
                if "SC" in font.getname()[0] or not path.endswith(".ttc"):
                    return font
    pytest.skip("Noto Sans CJK is not installed (apt-get install fonts-noto-cjk)")


def render_licence(uscc: str = USCC, name: str = NAME) -> Image.Image:
    """A plain licence: white 1800×1200 canvas, title and five labelled lines at 48 px."""
    img = Image.new("RGB", (1800, 1200), "white")
    draw = ImageDraw.Draw(img)
    draw.text((900, 130), "营业执照", font=cjk_font(96), fill="black", anchor="mm")
    lines = (
        f"统一社会信用代码 {uscc}",
        f"名　　称 {name}",
        "类　　型 有限责任公司",
        "法定代表人 陈联络",
        "住　　所 广州市天河区天河路100号",
    )
    font = cjk_font(48)
    for row, line in enumerate(lines):
        draw.text((150, 300 + 120 * row), line, font=font, fill="black")
    return img


def encode(img: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def licence_png() -> bytes:
    return encode(render_licence())


@pytest.fixture
def fresh_availability():
    """Forget the cached availability check before and after the test."""
    ocr.ocr_available.cache_clear()
    yield
    ocr.ocr_available.cache_clear()


# ---------------------------------------------------------------------------------------------
# Reading images with Tesseract
# ---------------------------------------------------------------------------------------------


@needs_ocr
def test_reads_name_and_uscc_from_bytes(licence_png):
    reading = read_business_licence(licence_png)

    assert reading.available
    assert reading.uscc == USCC
    assert reading.name == NAME
    assert "信用代码" in reading.raw_text


@needs_ocr
def test_reads_file_like_object_and_rewinds_it(licence_png):
    upload = io.BytesIO(licence_png)
    upload.seek(0, io.SEEK_END)  # where the caller's image validation may leave it

    reading = read_business_licence(upload)

    assert (reading.name, reading.uscc) == (NAME, USCC)
    assert upload.tell() == 0  # the caller can still save the file


@needs_ocr
def test_applies_exif_orientation_of_a_phone_photo():
    # Stored sideways with the "rotate 90° clockwise to display" tag, as phones do.
    sideways = render_licence().rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation

    reading = read_business_licence(encode(sideways, "JPEG", quality=90, exif=exif))

    assert (reading.name, reading.uscc) == (NAME, USCC)


@needs_ocr
def test_upscales_a_small_image():
    small = render_licence().resize((900, 600), Image.Resampling.LANCZOS)

    reading = read_business_licence(encode(small, "JPEG", quality=90))

    assert (reading.name, reading.uscc) == (NAME, USCC)


@needs_ocr
def test_code_with_wrong_check_character_is_not_offered():
    reading = read_business_licence(encode(render_licence(uscc=BAD_USCC)))

    assert reading.uscc == ""
    assert reading.name == NAME
    assert reading.available


@needs_ocr
def test_image_without_text_gives_empty_reading():
    reading = read_business_licence(encode(Image.new("RGB", (1800, 1200), "white")))

    assert (reading.name, reading.uscc, reading.available) == ("", "", True)


def test_unavailable_without_tesseract_binary(monkeypatch, fresh_availability, licence_png):
    def not_found(*args, **kwargs):
        raise pytesseract.TesseractNotFoundError()

    monkeypatch.setattr(pytesseract, "get_languages", not_found)
    monkeypatch.setattr(pytesseract, "image_to_string", not_found)

    assert ocr.ocr_available() is False
    assert read_business_licence(licence_png) == LicenceReading(available=False)


def test_unavailable_without_chi_sim(monkeypatch, fresh_availability, licence_png):
    monkeypatch.setattr(pytesseract, "get_languages", lambda *args, **kwargs: ["eng", "osd"])

    assert ocr.ocr_available() is False
    assert read_business_licence(licence_png).available is False


def test_binary_removed_after_the_check_counts_as_unavailable(monkeypatch, licence_png):
    def not_found(*args, **kwargs):
        raise pytesseract.TesseractNotFoundError()

    monkeypatch.setattr(ocr, "ocr_available", lambda: True)
    monkeypatch.setattr(pytesseract, "image_to_string", not_found)

    assert read_business_licence(licence_png) == LicenceReading(available=False)


@pytest.mark.parametrize(
    "error",
    [RuntimeError("Tesseract process timeout"), pytesseract.TesseractError(1, "bad image")],
)
def test_tesseract_failure_gives_empty_reading_and_warning(monkeypatch, caplog, licence_png, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(ocr, "ocr_available", lambda: True)
    monkeypatch.setattr(pytesseract, "image_to_string", fail)

    with caplog.at_level(logging.WARNING, logger="registration.ocr"):
        reading = read_business_licence(licence_png)

    assert reading == LicenceReading()
    assert "OCR failed" in caplog.text


def test_undecodable_image_gives_empty_reading(monkeypatch, caplog):
    monkeypatch.setattr(ocr, "ocr_available", lambda: True)

    with caplog.at_level(logging.WARNING, logger="registration.ocr"):
        reading = read_business_licence(b"\x89PNG\r\n\x1a\n truncated")

    assert reading == LicenceReading()
    assert "OCR failed" in caplog.text


def test_passes_language_psm_and_timeout_to_tesseract(monkeypatch, licence_png):
    calls = []

    def fake(img, **kwargs):
        calls.append((img, kwargs))
        return f"统一社会信用代码 {USCC}\n名称 {NAME}\n"

    monkeypatch.setattr(ocr, "ocr_available", lambda: True)
    monkeypatch.setattr(pytesseract, "image_to_string", fake)

    reading = read_business_licence(licence_png)

    assert (reading.name, reading.uscc) == (NAME, USCC)
    [(img, kwargs)] = calls
    assert kwargs == {"lang": "chi_sim", "config": "--psm 6", "timeout": 20}
    assert img.mode == "L"
    assert img.width >= 1600


# ---------------------------------------------------------------------------------------------
# Extracting the code and the name from text (no Tesseract needed)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"统一社会信用代码 {USCC}",
        f"统一社会信用代码：{USCC}",  # full-width colon
        f"统一社会信用代码 {USCC[:4]} {USCC[4:8]} {USCC[8:12]} {USCC[12:]}",  # spaces inside
        f"统一社会信用代码 {USCC.translate(str.maketrans('0123456789', '０１２３４５６７８９'))}",
        f"信用代码{USCC.lower()}",
        f"营业执照\n统一社会信用代码\n{USCC}\n名称 {NAME}",  # code on the line under the label
        f"(副本)\n{USCC}\n",  # no label at all
    ],
)
def test_extract_uscc(text):
    assert extract_uscc(text) == USCC


def test_extract_uscc_fixes_o_read_for_zero():
    assert "0" in USCC
    assert extract_uscc(f"统一社会信用代码 {USCC.replace('0', 'O')}") == USCC


def test_extract_uscc_fixes_other_confusables():
    code = "91310115MA1H7JUW8Y"[:17]
    code += uscc_check_char(code)
    misread = code.replace("1", "I").replace("5", "S").replace("U", "V")

    assert extract_uscc(f"统一社会信用代码 {misread}") == code


def test_extract_uscc_does_not_force_o_to_zero_when_the_check_fails():
    # The D was misread as O; mapping O to 0 gives a code whose check character fails.
    assert "D" in USCC[:17]
    misread = USCC[:17].replace("D", "O") + USCC[17]

    assert extract_uscc(f"统一社会信用代码 {misread}") == ""


def test_extract_uscc_refuses_a_wrong_check_character():
    assert extract_uscc(f"统一社会信用代码 {BAD_USCC}") == ""


def test_extract_uscc_prefers_the_labelled_line():
    other = "91110000100000000" + uscc_check_char("91110000100000000")
    text = f"发证 {other}\n统一社会信用代码 {USCC}\n"

    assert extract_uscc(text) == USCC


def test_extract_uscc_finds_code_glued_to_noise_next_to_label():
    assert extract_uscc(f"统一社会信用代码 1{USCC}") == USCC


def test_extract_uscc_ignores_wrong_lengths():
    assert extract_uscc(f"统一社会信用代码 {USCC[:17]}\n注册号 440101000123456") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"名称 {NAME}", NAME),
        (f"名称：{NAME}", NAME),  # full-width colon
        (f"名　　称 {NAME}", NAME),  # label padded with ideographic spaces
        (f"名 称{NAME} |", NAME),  # as Tesseract reads it, with a stray bar
        (f"名 称: {NAME}。", NAME),
        (f"名 ， 称{NAME}", NAME),  # padding read as a comma
        ("名称 广州示范（集团）有限公司", "广州示范（集团）有限公司"),
        ("名称 广州示范(集团)有限公司", "广州示范（集团）有限公司"),  # brackets made full-width
        ("名称 ＡＢＣ广州贸易有限公司", "ABC广州贸易有限公司"),
        (f"统一社会信用代码 {USCC}\n名称 {NAME}\n类型 有限责任公司", NAME),
    ],
)
def test_extract_name_from_label(text, expected):
    assert extract_name(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"营业执照\n{NAME}\n类型 有限责任公司", NAME),  # 有限责任公司 comes after the name
        ("住所 广州市天河区国际金融中心\n广州示范研究院\n", "广州示范研究院"),
        ("名 MOWER AAAS\n类 型有限责任公司\n", ""),  # garbled name line: no guess
        ("广州示范投资合伙企业（有限合伙）", "广州示范投资合伙企业（有限合伙）"),
        ("营业执照\n法定代表人 陈联络\n", ""),
        ("", ""),
    ],
)
def test_extract_name_fallback_without_label(text, expected):
    assert extract_name(text) == expected
