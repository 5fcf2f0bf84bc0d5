"""供采对接: the exhibitors of its edition ranked by how well they fit a unit's purchase
intentions, each with the reasons it was recommended.

**What counts, and how much** (fixed weights, added up):

========  ======  ==========================================================================
kind      weight  the exhibitor …
========  ======  ==========================================================================
zone      4       is in a special zone (专区) the unit chose (``Unit.interest_zones``)
area      3       is in an exhibition area (展区) the unit chose (``Unit.interest_areas``)
industry  2       sells in the unit's industry: the GB/T 4754 division (大类, the first two
                  digits of ``Unit.industry``) is one of ``Exhibitor.industries``
country   2       comes from a country or region the unit wants to see
                  (``MatchingProfile.countries``)
volume    1       takes orders of the unit's size: the unit's one-year purchase band
                  (``Unit.purchase_1y``) is at or above the exhibitor's ``min_order_band``
========  ======  ==========================================================================

A zone is narrower than an area, hence worth more; an exhibitor in a wanted zone of a wanted
area scores both. The volume only adds to an exhibitor that fits on something else: a buyer
big enough for every exhibitor is not interested in every exhibitor. An exhibitor that fits on
nothing (score 0) is not recommended; only listed exhibitors of the unit's edition are.

**Fast on a full edition** (5,000 exhibitors, ``benchmarks/matching.py``): the score is
computed by the database (a ``CASE`` per kind, JSON containment for the industries on
PostgreSQL), ordered by score, then name, then number, and cut to the page (``LIMIT``/``OFFSET``)
there; the reasons are written in Python for the page's rows only, in the active language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils.translation import gettext as _
from django_countries import countries as all_countries

from ciie_portal.names import localized

from ..reference import PURCHASE_BANDS, area_label, industry_name
from .directory import edition_has_exhibitors
from .models import Exhibitor, Favourite, MatchingProfile

#: The weight of each kind of reason.
WEIGHTS = {"zone": 4, "area": 3, "industry": 2, "country": 2, "volume": 1}
#: The order reasons are shown in.
KINDS = ("area", "zone", "industry", "country", "volume")

_BAND_RANK = {slug: rank for rank, (slug, _label) in enumerate(PURCHASE_BANDS)}
_BAND_LABEL = dict(PURCHASE_BANDS)


@dataclass(frozen=True)
class Intentions:
    """What a unit's ranking reads: its purchase intentions and matching preferences."""

    areas: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    #: The GB/T 4754 division (two digits) of the unit's industry, or "".
    division: str = ""
    countries: tuple[str, ...] = ()
    #: The unit's one-year purchase band (a slug of ``PURCHASE_BANDS``), or "".
    band: str = ""

    @property
    def empty(self) -> bool:
        """Nothing to match on (the volume alone recommends nobody)."""
        return not (self.areas or self.zones or self.division or self.countries)

    @property
    def bands_taken(self) -> tuple[str, ...]:
        """The smallest-order bands the unit's purchases reach: its own and those below."""
        rank = _BAND_RANK.get(self.band)
        if rank is None:
            return ()
        return tuple(slug for slug, _label in PURCHASE_BANDS[: rank + 1])


@dataclass
class Match:
    """One recommended exhibitor: its score and why (``[(kind, text)]``, in ``KINDS`` order)."""

    exhibitor: Exhibitor
    score: int
    reasons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The exhibitor's name in the active language."""
        return localized(self.exhibitor.name, self.exhibitor.name_en)

    @property
    def is_favourite(self) -> bool:
        return bool(getattr(self.exhibitor, "is_favourite", False))


def profile_countries(unit) -> list[str]:
    """The countries and regions the unit wants to see (one query)."""
    countries = (
        MatchingProfile.objects.filter(unit_id=unit.pk).values_list("countries", flat=True).first()
    )
    return list(countries or [])


def intentions_of(unit, countries=None) -> Intentions:
    """The unit's intentions; ``countries`` when the caller read them already, else one query
    for its matching preferences."""
    if countries is None:
        countries = profile_countries(unit)
    industry = (unit.industry or "").strip()
    return Intentions(
        areas=tuple(unit.interest_areas or ()),
        zones=tuple(unit.interest_zones or ()),
        division=industry[:2] if len(industry) >= 2 else "",
        countries=tuple(countries),
        band=unit.purchase_1y or "",
    )


def _industry_q(division: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(industries__contains=[division])  # jsonb @> '["27"]'
    # Elsewhere (the embedded SQLite) the JSON list is read as text: '["27", "35"]'.
    return Q(industries__icontains=f'"{division}"')


def _points(condition: Q, weight: int) -> Case:
    return Case(When(condition, then=Value(weight)), default=Value(0), output_field=IntegerField())


def ranked(edition_id: int, intentions: Intentions, *, unit_id: int | None = None):
    """The queryset of the edition's listed exhibitors that fit ``intentions``, annotated with
    their ``score``, best first (ties by name, then number); with ``unit_id``, also
    ``is_favourite``. Empty when there is nothing to match on."""
    exhibitors = Exhibitor.objects.filter(edition_id=edition_id, is_listed=True)
    conditions = {}
    if intentions.areas:
        conditions["area"] = Q(area__in=intentions.areas)
    if intentions.zones:
        conditions["zone"] = Q(zone__in=intentions.zones)
    if intentions.division:
        conditions["industry"] = _industry_q(intentions.division)
    if intentions.countries:
        conditions["country"] = Q(country__in=intentions.countries)
    if not conditions:
        return exhibitors.none()
    fits = Q()
    for condition in conditions.values():
        fits |= condition
    columns = {kind: _points(condition, WEIGHTS[kind]) for kind, condition in conditions.items()}
    if intentions.bands_taken:
        # Only exhibitors that fit on something else are selected (``fits``): the volume
        # adds to them and recommends nobody by itself.
        columns["volume"] = _points(Q(min_order_band__in=intentions.bands_taken), WEIGHTS["volume"])
    score = Value(0)
    for column in columns.values():
        score = score + column
    queryset = (
        exhibitors.filter(fits).annotate(score=score).order_by("-score", "name", "code", "pk")
    )
    if unit_id is not None:
        queryset = queryset.annotate(
            is_favourite=Exists(
                Favourite.objects.filter(unit_id=unit_id, exhibitor_id=OuterRef("pk"))
            )
        )
    return queryset


def reasons_of(exhibitor: Exhibitor, intentions: Intentions) -> list[tuple[str, str]]:
    """Why ``exhibitor`` fits ``intentions``: ``[(kind, text)]`` in the active language."""
    reasons = []
    if exhibitor.area and exhibitor.area in intentions.areas:
        name = area_label(exhibitor.area)
        reasons.append(("area", _("Exhibition area: %(name)s") % {"name": name}))
    if exhibitor.zone and exhibitor.zone in intentions.zones:
        name = area_label(exhibitor.zone)
        reasons.append(("zone", _("Special zone: %(name)s") % {"name": name}))
    if intentions.division and intentions.division in (exhibitor.industries or ()):
        reasons.append(
            ("industry", _("Industry: %(name)s") % {"name": industry_name(intentions.division)})
        )
    country = str(exhibitor.country or "")
    if country and country in intentions.countries:
        reasons.append(
            ("country", _("Country or region: %(name)s") % {"name": all_countries.name(country)})
        )
    if reasons and exhibitor.min_order_band and exhibitor.min_order_band in intentions.bands_taken:
        reasons.append(
            ("volume", _("Purchase volume: %(band)s") % {"band": _BAND_LABEL[intentions.band]})
        )
    return reasons


def recommendations(
    unit, *, limit: int = 20, offset: int = 0, intentions: Intentions | None = None
) -> list[Match]:
    """The exhibitors that fit ``unit`` best, ``limit`` of them from ``offset``, with their
    reasons in the active language, whether the unit keeps them (``is_favourite``). Two
    queries (the unit's matching preferences, the ranking); one when ``intentions`` are given,
    none when they are empty."""
    if intentions is None:
        intentions = intentions_of(unit)
    if intentions.empty or limit <= 0:
        return []
    rows = ranked(unit.edition_id, intentions, unit_id=unit.pk)[offset : offset + limit]
    return [Match(row, row.score, reasons_of(row, intentions)) for row in rows]


def dashboard_panel(unit) -> dict | None:
    """The dashboard's 供采对接 panel: the three exhibitors that fit the unit best. No query
    while the edition lists no exhibitor (the directory keeps that in the shared cache); two
    with exhibitors (the unit's preferences, the ranking)."""
    if not edition_has_exhibitors(unit.edition_id):
        return None
    intentions = intentions_of(unit)
    return {
        "template": "registration/exhibitors/_matching_panel.html",
        "matches": recommendations(unit, limit=3, intentions=intentions),
        "no_intentions": intentions.empty,
    }
