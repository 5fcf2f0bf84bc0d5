"""Names of data in the active language, and searching them in Chinese, pinyin and English.

The portal is Chinese first. Data that people name — an edition, an entry period, a delegation —
keeps its Chinese ``name`` and may have a ``name_en`` that organisers fill in; a visitor who chose
English sees ``name_en``, or the Chinese name while it is empty. :func:`localized` is that rule,
:class:`EnglishNamed` gives it to a model as ``display_name`` (and ``__str__``), and every page
and form uses it rather than choosing a field itself.

A search term matches a name when it is part of the Chinese name, of its pinyin (``guangzhou``),
of the initials of its pinyin (``gz``) or of the English name, case and width ignored.
"""

from __future__ import annotations

import functools
import unicodedata

from django.conf import settings
from django.utils.translation import get_language

__all__ = ["EnglishNamed", "english_active", "localized", "matches", "normalise", "search_keys"]


def english_active() -> bool:
    """True unless the active language is Chinese (the default, ``zh-hans``)."""
    language = get_language() or settings.LANGUAGE_CODE
    return not language.lower().startswith("zh")


def localized(name: str, name_en: str = "") -> str:
    """``name_en`` when English is active and it is filled in, else the Chinese ``name``."""
    if name_en and english_active():
        return name_en
    return name


def normalise(text: str) -> str:
    """Full-width letters and digits become ASCII, accents go (ü → u), case is folded."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text or ""))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@functools.lru_cache(maxsize=4096)
def _pinyin_keys(chinese: str) -> tuple[str, ...]:
    # Imported here: only names typed in by organisers need it at run time (the reference data
    # ships its keys, see registration/data/build_english.py).
    from pypinyin import Style, lazy_pinyin

    syllables = [s for s in lazy_pinyin(chinese, errors="ignore") if s.isascii() and s.isalpha()]
    if not syllables:
        return ()
    initials = lazy_pinyin(chinese, style=Style.FIRST_LETTER, errors="ignore")
    joined = "".join(syllables)
    keys = [joined, "".join(i for i in initials if i.isascii() and i.isalpha())]
    if "v" in joined:  # pypinyin writes ü as v (lv); people type lü, lu or lv
        keys.append(joined.replace("v", "u"))
    return tuple(keys)


def search_keys(*names: str) -> tuple[str, ...]:
    """What a search term is matched against: each name normalised, and for Chinese names their
    pinyin without spaces and its initials (``广州市`` → ``guangzhoushi``, ``gzs``)."""
    keys: list[str] = []
    for name in names:
        if not name:
            continue
        keys.append(normalise(name))
        if not name.isascii():
            keys.extend(_pinyin_keys(name))
    return tuple(keys)


def matches(query: str, keys: tuple[str, ...] | list[str]) -> bool:
    """Every whitespace-separated term of ``query`` is part of one of ``keys`` (spaces inside a
    key are ignored too, so ``"guang zhou"`` and ``"guangzhou"`` both find ``Guangzhou``)."""
    terms = normalise(query).split()
    if not terms:
        return True
    squeezed = [key.replace(" ", "") for key in keys]
    return all(any(term in key for key in squeezed) for term in terms)


class EnglishNamed:
    """For a model with a Chinese ``name`` and an optional ``name_en``."""

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)

    @property
    def search_keys(self) -> tuple[str, ...]:
        return search_keys(self.name, self.name_en)
