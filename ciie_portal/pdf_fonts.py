"""The Chinese font of the PDFs drawn with reportlab (invoices, credential cards).

reportlab embeds only fonts with TrueType outlines. Debian's Noto CJK (``fonts-noto-cjk``) has
PostScript (CFF) outlines, which reportlab refuses, so it is tried first (a later reportlab may
take it) and WenQuanYi Micro Hei (``fonts-wqy-microhei``, installed by ``.ci/run`` and the
Dockerfile) is what PDFs embed in practice. ``PDF_CJK_FONT`` (path, subfont index) names another.
Without any of them the built-in CID font STSong-Light is used: not embedded, but every PDF
reader and printer has a substitute. Registration never fails.
"""

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

logger = logging.getLogger(__name__)

# In Debian's Noto CJK collection, subfonts 0–4 are JP, KR, SC, TC, HK.
NOTO_CJK = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2)
TRUETYPE_CJK = [
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
]
FALLBACK_CID_FONT = "STSong-Light"
FONT_NAME = "PortalCJK"


@dataclass(frozen=True)
class CjkFont:
    name: str
    embedded: bool
    path: str = ""


def candidates() -> list[tuple[str, int]]:
    configured = getattr(settings, "PDF_CJK_FONT", None)
    return [*([tuple(configured)] if configured else []), NOTO_CJK, *TRUETYPE_CJK]


@functools.cache
def cjk_font() -> CjkFont:
    """Register the first usable CJK font, once per process, and say which it is."""
    for path, index in candidates():
        if not Path(path).exists():
            continue
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
        except Exception as error:  # noqa: BLE001 - any unusable font: try the next one
            logger.info("PDF font %s not usable: %s", path, error)
            continue
        return CjkFont(name=FONT_NAME, embedded=True, path=path)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return CjkFont(name=FALLBACK_CID_FONT, embedded=False)
