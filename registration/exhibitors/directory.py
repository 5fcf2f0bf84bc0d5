"""The exhibitor directory as visitors read it: what search reads (``search_text``), the search
itself, and the per-edition facts kept in the shared cache.

``search_text`` holds, lower-case and normalised (full-width → ASCII, accents dropped), the
Chinese and English names and the pinyin of the Chinese name twice: its syllables run together
(``上海`` → ``shanghai``) and their initials (``sh``). A keyword is found anywhere in it
(``LIKE '%…%'``), which the trigram indexes of migration 0016 answer on PostgreSQL."""

import functools

from django.db.models import Prefetch, Q
from pypinyin import lazy_pinyin
from pypinyin.seg.simpleseg import seg

from ciie_portal import read_cache
from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.names import localized, normalise

from ..reference import area_label
from .models import Exhibitor, Product

#: The shared cache's topic of the directory's facts (read anew when an exhibitor changes;
#: the importer, which writes in bulk, calls ``read_cache.forget`` itself).
CACHE_TOPIC = "exhibitors"

#: Exhibitors on one page of the directory.
PAGE_SIZE = 20

#: Matching products shown under an exhibitor on a page of results.
PRODUCTS_SHOWN = 5


# ---------------------------------------------------------------------------------------------
# search_text
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, str]:
    syllables = [
        syllable
        for syllable in lazy_pinyin(word, errors="ignore")
        if syllable.isascii() and syllable.isalpha()
    ]
    return "".join(syllables), "".join(syllable[0] for syllable in syllables)


def pinyin_keys(chinese: str) -> tuple[str, str]:
    """(the pinyin of ``chinese`` run together, its initials): ``上海`` → ``("shanghai",
    "sh")``. Characters that are not Chinese are left out. Word by word as pypinyin cuts the
    name (the same readings as a whole-name conversion), each word converted once per process:
    product names share most of their words, which makes an import of 50,000 rows fast."""
    spelled, initials = [], []
    for word in seg(chinese or ""):
        word_spelled, word_initials = _word_pinyin(word)
        spelled.append(word_spelled)
        initials.append(word_initials)
    return "".join(spelled), "".join(initials)


def _name_keys(name: str, name_en: str = "") -> list[str]:
    """A name's search keys: the Chinese and English names, its pinyin run together and its
    initials."""
    return [
        key
        for key in (normalise(name).strip(), normalise(name_en).strip(), *pinyin_keys(name))
        if key
    ]


def product_search_text(name: str, name_en: str = "", category: str = "", category_en="") -> str:
    """What search reads of a product: its names and its category's, in Chinese, English and
    pinyin."""
    keys = _name_keys(name, name_en) + _name_keys(category, category_en)
    return " ".join(dict.fromkeys(keys))


def exhibitor_search_text(name: str, name_en: str = "", product_texts=()) -> str:
    """What search reads of an exhibitor: its names in Chinese, English and pinyin, then its
    products' search texts (``product_texts``), each word once (a keyword's terms are matched
    one by one)."""
    words = " ".join([*_name_keys(name, name_en), *product_texts]).split()
    return " ".join(dict.fromkeys(words))


def keyword_terms(keyword: str) -> list[str]:
    """The terms of a keyword as search_text spells them: ``"Medical  Ｘ光"`` → ``["medical",
    "x光"]``. Every term must be found."""
    return normalise(keyword or "").split()[:8]


def terms_filter(terms: list[str]) -> Q:
    """Every term found in ``search_text``."""
    # ``contains`` (LIKE), not ``icontains`` (UPPER(…) LIKE): search_text is lower-case already,
    # and only a plain LIKE on the column is answered by its trigram index.
    condition = Q()
    for term in terms:
        condition &= Q(search_text__contains=term)
    return condition


# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


def listed_exhibitors(edition_id: int):
    """The exhibitors visitors of an edition may see."""
    return Exhibitor.objects.filter(edition_id=edition_id, is_listed=True)


_CARD_FIELDS = ("id", "code", "name", "name_en", "country", "hall", "booth", "area", "zone")
_PRODUCT_FIELDS = ("id", "exhibitor_id", "code", "name", "name_en", "category", "category_en")


def search(edition_id: int, *, keyword: str = "", area: str = "", zone: str = "", country=""):
    """The listed exhibitors of an edition matching the filters, in exhibitor-number order,
    each with ``matching_products`` (the products the keyword finds; empty without one).

    Every term of the keyword is found in the exhibitor's ``search_text`` (its names, its
    products' names and categories); the products shown are those that hold every term. A
    queryset: paginate it, the products come with each page in one more query."""
    exhibitors = listed_exhibitors(edition_id).only(*_CARD_FIELDS).order_by("code")
    if area:
        exhibitors = exhibitors.filter(area=area)
    if zone:
        exhibitors = exhibitors.filter(zone=zone)
    if country:
        exhibitors = exhibitors.filter(country=country)
    terms = keyword_terms(keyword)
    if not terms:
        return exhibitors.prefetch_related(
            Prefetch("products", queryset=Product.objects.none(), to_attr="matching_products")
        )
    # An exhibitor's search_text holds its products' too: one indexed table to search; the
    # products the keyword finds are read for the exhibitors of the page only.
    return exhibitors.filter(terms_filter(terms)).prefetch_related(
        Prefetch(
            "products",
            queryset=Product.objects.filter(terms_filter(terms))
            .only(*_PRODUCT_FIELDS)
            .order_by("exhibitor_id", "code"),
            to_attr="matching_products",
        )
    )


def exhibitor_for_unit(edition_id: int, pk) -> Exhibitor | None:
    """A listed exhibitor of the edition with its products (``product_list``), or None."""
    return (
        listed_exhibitors(edition_id)
        .prefetch_related(
            Prefetch(
                "products",
                queryset=Product.objects.only(
                    *_PRODUCT_FIELDS, "description", "description_en"
                ).order_by("code"),
                to_attr="product_list",
            )
        )
        .filter(pk=pk)
        .first()
    )


def shown(exhibitors) -> list[Exhibitor]:
    """The exhibitors (and their prefetched products) with what a page shows in the active
    language: ``shown_name``, ``area_name``, ``zone_name``; products' ``shown_name``,
    ``shown_category``, ``shown_description``."""
    exhibitors = list(exhibitors)
    for exhibitor in exhibitors:
        exhibitor.shown_name = localized(exhibitor.name, exhibitor.name_en)
        exhibitor.area_name = area_label(exhibitor.area)
        exhibitor.zone_name = area_label(exhibitor.zone)
        for attribute in ("matching_products", "product_list"):
            for product in getattr(exhibitor, attribute, ()):
                product.shown_name = localized(product.name, product.name_en)
                product.shown_category = localized(product.category, product.category_en)
                if attribute == "product_list":
                    product.shown_description = localized(
                        product.description, product.description_en
                    )
    return exhibitors


# ---------------------------------------------------------------------------------------------
# Facts kept in the shared cache
# ---------------------------------------------------------------------------------------------


def edition_has_exhibitors(edition_id) -> bool:
    """Whether the edition lists any exhibitor: kept in the shared cache, so that a page or a
    dashboard panel asks the database nothing when there is no directory."""
    if not edition_id:
        return False
    return read_cache.kept(
        CACHE_TOPIC,
        f"listed:{edition_id}",
        lambda: listed_exhibitors(edition_id).exists(),
    )


def edition_countries(edition_id) -> list[str]:
    """The country codes of the edition's listed exhibitors (the country filter's choices),
    kept in the shared cache."""
    return read_cache.kept(
        CACHE_TOPIC,
        f"countries:{edition_id}",
        lambda: sorted(
            set(
                listed_exhibitors(edition_id)
                .exclude(country="")
                .values_list("country", flat=True)
                .distinct()
            )
        ),
    )


def forget_directory() -> None:
    """The kept facts are read anew (after a bulk write, which sends no signal)."""
    read_cache.forget(CACHE_TOPIC)


# ---------------------------------------------------------------------------------------------
# Staff changes
# ---------------------------------------------------------------------------------------------


def exhibitor_refresh(exhibitor: Exhibitor, *, actor, changed=()) -> None:
    """After a staff member edited an exhibitor or its products by hand: their ``search_text``
    and the exhibitor's ``industries`` rebuilt (a few statements), and the change audited."""
    products = list(exhibitor.products.only(*_PRODUCT_FIELDS, "industry", "search_text"))
    stale = []
    for product in products:
        text = product_search_text(
            product.name, product.name_en, product.category, product.category_en
        )
        if text != product.search_text:
            product.search_text = text
            stale.append(product)
    Product.objects.bulk_update(stale, ["search_text"], batch_size=500)
    exhibitor.search_text = exhibitor_search_text(
        exhibitor.name, exhibitor.name_en, [p.search_text for p in products]
    )
    exhibitor.industries = sorted({p.industry for p in products if p.industry})
    Exhibitor.objects.filter(pk=exhibitor.pk).update(
        search_text=exhibitor.search_text, industries=exhibitor.industries
    )
    audit_record(
        actor=actor, obj=exhibitor, action="exhibitor.change", data={"fields": sorted(changed)}
    )
    forget_directory()


def exhibitors_set_listed(exhibitors, *, listed: bool, actor) -> int:
    """List (or take off the directory) the exhibitors of the queryset; audited. The number
    changed."""
    changing = list(exhibitors.exclude(is_listed=listed).only("pk", "edition_id", "code"))
    if not changing:
        return 0
    Exhibitor.objects.filter(pk__in=[e.pk for e in changing]).update(is_listed=listed)
    audit_record_bulk(
        actor=actor,
        objects=changing,
        action="exhibitor.listed" if listed else "exhibitor.unlisted",
        from_state=str(not listed).lower(),
        to_state=str(listed).lower(),
    )
    forget_directory()
    return len(changing)
