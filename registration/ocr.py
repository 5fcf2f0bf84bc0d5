"""Read the unit name and the Unified Social Credit Code from a business licence (营业执照) image.

The unit-information form offers the two values as suggestions that the user confirms; nothing
read here is trusted or saved without that confirmation. OCR is a convenience: when Tesseract or
its Simplified Chinese data (``chi_sim``) is missing, when it fails or times out, or when the
photo is unreadable, the caller gets an empty :class:`LicenceReading` and the user types the
values, so no error from this module ever reaches the form.

A code is only offered if its GB 32100-2015 check character holds, so a misread character gives
no suggestion rather than a wrong one (a single misread character always breaks the check).

``raw_text`` holds everything Tesseract read, including the legal representative's name and the
address: use it for debugging only and do not log or store it.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

import pytesseract
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps

from registration.validators import validate_uscc

__all__ = [
    "LicenceReading",
    "extract_name",
    "extract_uscc",
    "ocr_available",
    "read_business_licence",
]

logger = logging.getLogger(__name__)

# Tesseract's own threads make one recognition slower on a small server and let a few
# concurrent uploads take every core: one thread each.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

# chi_sim alone reads the Latin letters of the code well enough; adding "eng" made Tesseract
# turn the Chinese name line into English words at some image sizes, and took twice as long.
OCR_LANG = "chi_sim"
# --psm 6 ("a single uniform block of text") keeps each label on the same line as its value;
# the default page segmentation often splits "名称" and the name into separate blocks.
OCR_CONFIG = "--psm 6"
OCR_TIMEOUT_SECONDS = 20
# Tesseract reads best with text about 30 px high. On a licence the text is roughly 1/50 to 1/60
# of the width, so 1600 px brings a small scan or a thumbnail up to that size.
MIN_WIDTH = 1600
# Phone photos are 4000 px or more wide; past this the text is larger than Tesseract reads well
# (accuracy drops again above ~60 px) and the run time grows with the pixel count.
MAX_SIDE = 2400

# Characters OCR reads in place of the code's alphabet. I, O, Z, S and V are not in the alphabet
# at all (GB 32100-2015 left them out for exactly this reason), so mapping them can never turn a
# valid code into an invalid one; the check character then decides whether the guess was right.
_CONFUSABLES = str.maketrans("OIZSV", "0125U")
_USCC_RUN_RE = re.compile(r"[0-9A-Z]+")
_USCC_RE = re.compile(r"[0-9A-HJ-NP-RTUWXY]{18}")
_USCC_LABEL = "信用代码"  # also matches an OCR'd "统一社会信用代码" with a dropped first character

# "名称", "名 称" or "名　　称" (the licence pads the label with ideographic spaces, which OCR
# also reads as stray punctuation: "名 ， 称"); then an optional colon.
_NAME_LABEL_RE = re.compile(r"名\W{0,4}称\W*(.*)")
_NAME_SUFFIXES = ("公司", "集团", "厂", "中心", "研究院", "合伙", "合伙）")
# Labels of the licence's other lines, whose values can end like a name (类型 有限责任公司,
# 住所 …中心) but are not the unit's name.
_NOT_NAME_LABELS = (
    "类型",
    "住所",
    "场所",
    "地址",
    "范围",
    "代表人",
    "负责人",
    "合伙人",
    "登记机关",
)
# Everything except CJK ideographs, ASCII letters and digits, and full-width brackets.
_NAME_JUNK_RE = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9（）]")


@dataclass
class LicenceReading:
    """What OCR found on a licence. Empty strings mean "not found"; ``available`` is False
    when OCR is not installed (the form can then skip the "we read this from your licence"
    hint)."""

    name: str = ""
    uscc: str = ""
    available: bool = True
    raw_text: str = ""


@functools.cache
def ocr_available() -> bool:
    """Return True if the tesseract binary is installed with the ``chi_sim`` language.

    Cached for the life of the process: it runs a subprocess, and installing Tesseract needs a
    restart of the application server anyway.
    """
    try:
        languages = pytesseract.get_languages()
    except (OSError, RuntimeError) as exc:  # TesseractNotFoundError is an OSError
        logger.info("Business licence OCR is unavailable: %s", exc)
        return False
    if "chi_sim" not in languages:
        logger.info("Business licence OCR is unavailable: Tesseract has no chi_sim language data.")
        return False
    return True


def read_business_licence(image: bytes | BinaryIO) -> LicenceReading:
    """Read the unit name and the USCC from a business licence image (JPEG or PNG).

    ``image`` is the bytes or a file-like object (an uploaded file); a file is read from its
    start and rewound afterwards so that the caller can still save it. Never raises for a
    missing Tesseract, a failing or slow OCR run or an undecodable image; it logs a warning and
    returns an empty reading instead. Takes one to a few seconds: call it outside database
    transactions.
    """
    if not ocr_available():
        return LicenceReading(available=False)
    try:
        img = _prepare(image)
        text = pytesseract.image_to_string(
            img, lang=OCR_LANG, config=OCR_CONFIG, timeout=OCR_TIMEOUT_SECONDS
        )
    except pytesseract.TesseractNotFoundError:
        # Uninstalled since the cached check: behave as if it had never been there.
        return LicenceReading(available=False)
    except (OSError, RuntimeError, ValueError, Image.DecompressionBombError) as exc:
        # TesseractError and the timeout are RuntimeErrors; Pillow raises OSError (or
        # UnidentifiedImageError, a subclass) for a truncated or corrupt file.
        logger.warning("Business licence OCR failed: %s", exc)
        return LicenceReading()
    return LicenceReading(name=extract_name(text), uscc=extract_uscc(text), raw_text=text)


def _prepare(image: bytes | BinaryIO) -> Image.Image:
    """Open the image upright, in grayscale, at a size Tesseract reads well."""
    if isinstance(image, bytes | bytearray | memoryview):
        image = io.BytesIO(image)
    seekable = hasattr(image, "seek")
    if seekable:  # the caller's validation may have left the file at its end
        image.seek(0)
    try:
        with Image.open(image) as opened:
            # Phone photos are stored sideways with an EXIF orientation tag; Tesseract ignores it.
            img = ImageOps.exif_transpose(opened)
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                # A transparent background would turn black in grayscale and hide the text.
                background = Image.new("RGBA", img.size, "white")
                img = Image.alpha_composite(background, img.convert("RGBA"))
            img = img.convert("L")
    finally:
        if seekable:
            image.seek(0)
    scale = 1.0
    if img.width < MIN_WIDTH:
        scale = MIN_WIDTH / img.width
    elif max(img.size) > MAX_SIDE:
        scale = MAX_SIDE / max(img.size)
    if scale != 1.0:
        size = (round(img.width * scale), round(img.height * scale))
        img = img.resize(size, Image.Resampling.LANCZOS)
    return img


def extract_uscc(text: str) -> str:
    """Return the first USCC in ``text`` whose check character holds, or ``""``.

    Codes on a line labelled 统一社会信用代码, or on the line after the label (some licence
    layouts print the code under it), are preferred over codes elsewhere on the page.
    """
    lines = unicodedata.normalize("NFKC", text).upper().splitlines()
    labelled = {
        i + offset for i, line in enumerate(lines) if _USCC_LABEL in line for offset in (0, 1)
    }
    order = sorted(range(len(lines)), key=lambda i: i not in labelled)
    for i in order:
        for code in _uscc_candidates(lines[i], near_label=i in labelled):
            if _uscc_valid(code):
                return code
    return ""


def _uscc_candidates(line: str, *, near_label: bool) -> list[str]:
    # OCR often splits the code with spaces ("9144 0101 MA59..."); Chinese text around it ends a
    # run, so removing all whitespace from the line does not glue the code to its label.
    runs = _USCC_RUN_RE.findall("".join(line.split()))
    candidates = []
    for run in runs:
        run = run.translate(_CONFUSABLES)
        if len(run) == 18:
            candidates.append(run)
        elif near_label and len(run) > 18:
            # Next to the label, a stray character glued to the code ("|" read as "1") is
            # likely; elsewhere, sliding over long runs would find a check-valid window in
            # 1 case out of 31 by chance, so only exact runs are taken.
            candidates.extend(run[j : j + 18] for j in range(len(run) - 17))
    return [code for code in candidates if _USCC_RE.fullmatch(code)]


def _uscc_valid(code: str) -> bool:
    # The project's validator, not a local copy of the check, so that OCR offers exactly the
    # codes the form accepts.
    try:
        validate_uscc(code)
    except ValidationError:
        return False
    return True


def extract_name(text: str) -> str:
    """Return the unit name from the licence's 名称 line, or ``""``.

    Without a 名称 label (OCR sometimes misreads it), falls back to the first line that ends like
    an organisation's name (…有限公司, …集团, …厂, …（有限合伙）, …).
    """
    lines = text.splitlines()
    for line in lines:
        match = _NAME_LABEL_RE.search(line)
        if match and (name := _clean_name(match.group(1))):
            return name
    for line in lines:
        name = _clean_name(line)
        if name.endswith(_NAME_SUFFIXES) and not any(label in name for label in _NOT_NAME_LABELS):
            return name
    return ""


def _clean_name(value: str) -> str:
    # NFKC turns full-width letters and digits into ASCII but also full-width brackets into
    # ASCII ones; Chinese names are registered with full-width brackets, so put those back.
    value = unicodedata.normalize("NFKC", value).replace("(", "（").replace(")", "）")
    name = _NAME_JUNK_RE.sub("", value)
    # A lone character is OCR noise, not a name.
    return name if len(name) >= 2 else ""
