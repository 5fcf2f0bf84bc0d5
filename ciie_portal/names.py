"""Names of data in the active language, and searching them in Chinese, pinyin and English.

The portal is Chinese first. Data that people name — an edition, an entry period, a delegation —
keeps its Chinese ``name`` and may have a ``name_en`` that organisers fill in; a visitor who chose
English sees ``name_en``, or the Chinese name while it is empty. :func:`localized` is that rule,
:class:`EnglishNamed` gives it to a model as ``display_name`` (and ``__str__``), and every page
and form uses it rather than choosing a field itself.

A search term finds a name in Chinese, in pinyin (``guangzhou``), by the initials of its pinyin
(``gz``) or in English, case and width ignored: :func:`term_in` is that rule.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from django import forms
from django.conf import settings
from django.utils.translation import get_language

__all__ = [
    "EnglishNamed",
    "SearchableSelect",
    "english_active",
    "localized",
    "normalise",
    "pinyin",
    "term_in",
    "terms",
    "words",
]


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


def words(text: str) -> str:
    """``"Xi'an Sub-delegation"`` → ``"xi an sub delegation"``: normalised, split into words."""
    return " ".join(re.findall(r"[^\W_]+", normalise(text)))


@functools.lru_cache(maxsize=4096)
def pinyin(chinese: str) -> tuple[str, str]:
    """(the syllables of ``chinese``'s pinyin separated by spaces, their initials without):
    ``广州市`` → ``("guang zhou shi", "gzs")``. Characters that are not Chinese are left out."""
    # Imported here: only names typed in by organisers need it at run time (the reference data
    # ships its pinyin, see registration/data/build_english.py).
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(chinese, errors="ignore") if s.isascii() and s.isalpha()]
    return " ".join(syllables), "".join(syllable[0] for syllable in syllables)


def _starts_a_word(term: str, spaced: str) -> bool:
    squeezed = spaced.replace(" ", "")
    position = 0
    for word in spaced.split():
        if squeezed.startswith(term, position):
            return True
        position += len(word)
    return False


def terms(query: str) -> list[str]:
    """The normalised terms of a search: ``"Sub-delegation 广州"`` → ``["sub", "delegation",
    "广州"]``."""
    return words(query).split()


def term_in(term: str, *, chinese=(), spaced=(), initials=()) -> bool:
    """Whether one search term is found in a name.

    * ``chinese``: names in which the term may be anywhere (``州`` finds ``广州市``);
    * ``spaced``: pinyin syllables or English words separated by spaces, where the term must
      start at a syllable or word and may run on over the next ones (``guangzhou`` and
      ``zhou`` find ``guang zhou shi``; ``gz`` does not find ``zhuang zu``);
    * ``initials``: pinyin initials, which the term must start (``gz`` finds 广州 by ``gzs``,
      not 内蒙古 by ``nmgzzq``).
    """
    return (
        any(term in key for key in chinese)
        or any(_starts_a_word(term, key) for key in spaced)
        or any(key.startswith(term) for key in initials)
    )


class EnglishNamed:
    """For a model with a Chinese ``name`` and an optional ``name_en``."""

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)

    def matches(self, query: str) -> bool:
        """Every term of ``query`` is found in the Chinese name, its pinyin, its pinyin's
        initials or the English name. Names typed in by organisers often start with their
        province (广东广州交易分团), so here initials may match anywhere: ``gz`` finds it by
        ``gdgzjyft``."""
        spelled, initials = pinyin(self.name)
        chinese = (normalise(self.name), initials)
        spaced = (spelled, words(self.name_en))
        return all(term_in(term, chinese=chinese, spaced=spaced) for term in terms(query))

    @property
    def search_text(self) -> str:
        """What a picker filtering in the browser matches besides the shown label: the pinyin,
        its initials and the English name, each without spaces (``guangdongguangzhoujiaoyifentuan
        gdgzjyft guangzhousubdelegation``)."""
        spelled, initials = pinyin(self.name)
        parts = (spelled, initials, words(self.name_en))
        return " ".join(part.replace(" ", "") for part in parts if part)


class SearchableSelect(forms.Select):
    """A select of model objects whose options carry ``data-search`` (their ``search_text``), so
    that static/js/registration.js ``selectFilter`` finds them by pinyin or English too."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if isinstance(instance, EnglishNamed):
            option["attrs"]["data-search"] = instance.search_text
        return option
