"""Admin list filters for the secretaries' unit and visitor lists, each choice with its count.

The counts are those of the list's scope — ``model_admin.counted_queryset(request)`` where the
admin has one (the visitor list: the user's delegation subtree within the list's edition), else
``get_queryset(request)`` — whatever other filters are active. Every filter's choices are
counted together in one aggregate query (``COUNT(*) FILTER (WHERE …)`` for each choice), made
when the first filter is shown, so the changelist costs the same number of queries for ten
visitors or ten thousand, and reads the scope once.

A scope of more than ``COUNTED_AT_MOST`` rows — the organiser's list of a whole edition, whose
400,000 visitors take a quarter of a second to count even in one pass — shows its choices
without counts: a first query counts the scope only up to that limit to know. The organiser's
overview (``/staff/overview/``) has the edition's totals.

When the admin's own facet counts are switched on (``?_facets``) those are shown instead, as
Django computes them within the other active filters.

The filters the apps built on this one register (证件状态: ``registration.list_filters``) show
no counts: their states live in other tables, and counting each choice would join them for the
whole list.
"""

from datetime import date

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ciie_portal.context_processors import current_edition_for
from ciie_portal.models import Edition, EntryPeriod
from registration.list_filters import STAFF_LIST, VisitorListFilter, visitor_list_filters
from registration.models import Label, PersonType, Pickup, Sex, Unit, Visitor

NONE = "none"
YES = "yes"
NO = "no"

#: Lists of more rows than this show their filters' choices without counts (see above).
COUNTED_AT_MOST = 50_000


def counted_scope(request, model_admin):
    """The rows a list's filter counts are of."""
    scope = getattr(model_admin, "counted_queryset", None)
    return scope(request) if scope else model_admin.get_queryset(request)


def list_counts(changelist, request) -> dict | None:
    """{(parameter, value): rows} for every choice of every counted filter of ``changelist``,
    or None when its scope holds more than ``COUNTED_AT_MOST`` rows. Made once per changelist,
    with the scope's rows (``scope_rows``): in one query over at most ``COUNTED_AT_MOST`` + 1
    rows where the admin expects a scope of that size (``counts_in_one_pass``: a secretary's
    delegation), else a count up to that limit first, then the counts."""
    if not hasattr(changelist, "_filter_counts"):
        counted = [spec for spec in changelist.filter_specs if isinstance(spec, CountedListFilter)]
        scope = counted_scope(request, changelist.model_admin).order_by()
        conditions = {
            (spec.parameter_name, value): condition
            for spec in counted
            for value, condition in spec.conditions.items()
        }
        names = {key: f"c{n}" for n, key in enumerate(conditions)}
        counts = {
            names[key]: Count("pk", filter=condition) for key, condition in conditions.items()
        }
        one_pass = getattr(changelist.model_admin, "counts_in_one_pass", None)
        if one_pass is not None and one_pass(request):
            rows = scope[: COUNTED_AT_MOST + 1].aggregate(scope_rows=Count("pk"), **counts)
        else:
            rows = {"scope_rows": scope.values("pk")[: COUNTED_AT_MOST + 1].count()}
            if rows["scope_rows"] <= COUNTED_AT_MOST:
                rows |= scope.aggregate(**counts)
        if rows["scope_rows"] > COUNTED_AT_MOST:
            changelist._filter_counts = changelist._scope_rows = None
        else:
            changelist._scope_rows = rows["scope_rows"]
            changelist._filter_counts = {key: rows[names[key]] for key in conditions}
    return changelist._filter_counts


def scope_rows(changelist, request) -> int | None:
    """How many rows the list's filter counts are of, when they are counted (None above
    ``COUNTED_AT_MOST``): what the unfiltered list pages, without a count of its own."""
    list_counts(changelist, request)
    return changelist._scope_rows


class CountedListFilter(admin.SimpleListFilter):
    """A filter whose choices show how many rows of the list each would keep.

    Subclasses set ``options()``: (value in the query string, label, condition) for each
    choice, where the condition is a ``Q`` or, with ``field`` set, the field's value in the
    database.
    """

    field: str = ""

    def options(self, request, model_admin) -> list[tuple[str, str, object]]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        options = self.options(request, model_admin)
        self.conditions = {value: self._condition(db_value) for value, _label, db_value in options}
        return [(value, label) for value, label, _db_value in options]

    def _condition(self, db_value) -> Q:
        if isinstance(db_value, Q):
            return db_value
        if db_value is None:
            return Q(**{f"{self.field}__isnull": True})
        return Q(**{self.field: db_value})

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.conditions:
            raise IncorrectLookupParameters(f"{self.parameter_name}={value!r}")
        return queryset.filter(self.conditions[value])

    def choices(self, changelist):
        if changelist.add_facets:
            yield from super().choices(changelist)
            return
        counts = list_counts(changelist, self.request)
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": (
                    label if counts is None else f"{label} ({counts[self.parameter_name, value]})"
                ),
            }


class ChoicesFilter(CountedListFilter):
    """A filter over a ``TextChoices`` field; ``empty_label`` adds a choice for a blank value."""

    choices_class = None
    empty_label = None

    def options(self, request, model_admin):
        options = [(value, label, value) for value, label in self.choices_class.choices]
        if self.empty_label:
            options.append((NONE, self.empty_label, ""))
        return options


class YesNoFilter(CountedListFilter):
    """A filter over a boolean field; subclasses name the two choices."""

    yes_label: str
    no_label: str

    def options(self, request, model_admin):
        return [(YES, self.yes_label, True), (NO, self.no_label, False)]


# --- Visitors -------------------------------------------------------------------------------

ALL = "all"


def list_edition(request) -> int | None:
    """The edition the visitor list shows: the one chosen in its edition filter, else the
    current one; None for all editions (chosen, or no edition is current)."""
    return _edition_chosen(request, request.GET.get(EditionFilter.parameter_name))


def _edition_chosen(request, value: str | None) -> int | None:
    if value == ALL:
        return None
    if value is None:
        edition = current_edition_for(request)
        return edition.pk if edition else None
    if not value.isdigit():
        raise IncorrectLookupParameters(f"{EditionFilter.parameter_name}={value!r}")
    return int(value)


class EditionFilter(admin.SimpleListFilter):
    """版次: the current edition's visitors unless another edition (or all) is chosen. An
    edition holds hundreds of thousands of visitors; what the list counts, filters and pages
    is one edition's, as an organiser or a secretary works on one edition at a time."""

    title = _("edition")
    parameter_name = "edition"

    def lookups(self, request, model_admin):
        editions = Edition.objects.order_by("-number").only("pk", "number", "name", "name_en")
        return [(str(edition.pk), str(edition)) for edition in editions] + [
            (ALL, _("All editions"))
        ]

    def queryset(self, request, queryset):
        edition = _edition_chosen(request, self.value())
        return queryset if edition is None else queryset.filter(edition_id=edition)

    def choices(self, changelist):
        # No "All" of its own: without a choice, the list shows the current edition.
        shown = str(_edition_chosen(self.request, self.value()) or ALL)
        for value, label in self.lookup_choices:
            yield {
                "selected": shown == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class PersonTypeFilter(ChoicesFilter):
    title = _("person type")  # 人员类型
    parameter_name = field = "person_type"
    choices_class = PersonType


class LabelFilter(ChoicesFilter):
    title = _("label type")  # 标签类型
    parameter_name = field = "label"
    choices_class = Label
    empty_label = _("No label")


class EntryPeriodFilter(CountedListFilter):
    title = _("entry days")  # 入场日期
    parameter_name = "entry_period"
    field = "entry_period"

    def options(self, request, model_admin):
        # The current edition's entry days: one query, the edition joined in.
        periods = EntryPeriod.objects.filter(edition__is_current=True).order_by(
            "position", "first_day"
        )
        options = [(str(period.pk), str(period), period.pk) for period in periods]
        options.append((NONE, _("Not chosen"), None))
        return options


class PickupFilter(ChoicesFilter):
    title = _("pickup method")  # 领取方式
    parameter_name = field = "pickup"
    choices_class = Pickup
    empty_label = _("Not chosen")


class PaidByDelegationFilter(YesNoFilter):
    title = _("payment by the delegation")  # 代付状态
    parameter_name = field = "paid_by_delegation"
    yes_label = _("Paid by the delegation")
    no_label = _("Paid by the unit")


class ReuseFilter(YesNoFilter):
    title = _("credential reuse")  # 证件复用
    parameter_name = field = "reuse_eligible"
    yes_label = _("May reuse")
    no_label = _("New credential")


class VisitorStatusFilter(ChoicesFilter):
    title = _("visitor status")  # 人员状态
    parameter_name = field = "status"
    choices_class = Visitor.Status


class LabelUpgradeFilter(YesNoFilter):
    # 标签升级: a reusing visitor whose label was upgraded needs a new card, not last edition's.
    # The credential's own state (证件状态) is the credentials app's filter (``registered``).
    title = _("label upgrade")
    parameter_name = "credential"
    field = "needs_new_credential"
    yes_label = _("Needs a new credential")
    no_label = _("No new credential needed")


class SexFilter(ChoicesFilter):
    title = _("sex")  # 性别
    parameter_name = field = "sex"
    choices_class = Sex
    empty_label = _("Not given")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


#: 年龄: (value, label, lowest age, highest age) of each band; None is open.
AGE_BANDS = [
    ("u30", _("Under 30"), None, 29),
    ("30", _("30–39"), 30, 39),
    ("40", _("40–49"), 40, 49),
    ("50", _("50–59"), 50, 59),
    ("60", _("60 and over"), 60, None),
]


class AgeBandFilter(CountedListFilter):
    """年龄: the age on the first day of the current edition's expo (today in Beijing without
    one), from the date of birth. Each band is a range of birth dates, so the filter and its
    counts use no per-row arithmetic."""

    title = _("age")
    parameter_name = "age"
    field = "birth_date"

    def options(self, request, model_admin):
        edition = current_edition_for(request)
        on = edition.starts_on if edition else timezone.localdate()
        options = []
        for value, label, lowest, highest in AGE_BANDS:
            condition = Q()
            if lowest is not None:  # at least ``lowest`` years old on ``on``
                condition &= Q(birth_date__lte=_years_before(on, lowest))
            if highest is not None:  # not yet ``highest + 1``
                condition &= Q(birth_date__gt=_years_before(on, highest + 1))
            options.append((value, label, condition))
        options.append((NONE, _("Not given"), Q(birth_date__isnull=True)))
        return options


class RegisteredVisitorFilter(admin.SimpleListFilter):
    """A filter another app registered for the staff list (``registration.list_filters``);
    subclasses are made by ``registered_visitor_filters``. No counts (see above)."""

    entry: VisitorListFilter

    def lookups(self, request, model_admin):
        return list(self.entry.choices)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.entry.values():
            raise IncorrectLookupParameters(f"{self.parameter_name}={value!r}")
        return self.entry.apply(queryset, value)


_registered_classes: dict = {}


def registered_visitor_filters() -> list[type]:
    """The admin filters of the staff list's registered filters (证件状态), one class each."""
    classes = []
    for entry in visitor_list_filters(STAFF_LIST):
        if _registered_classes.get(entry.name, (None,))[0] is not entry:
            cls = type(
                f"Registered_{entry.name}_Filter",
                (RegisteredVisitorFilter,),
                {"entry": entry, "title": entry.label, "parameter_name": entry.name},
            )
            _registered_classes[entry.name] = (entry, cls)
        classes.append(_registered_classes[entry.name][1])
    return classes


VISITOR_FILTERS = (
    PersonTypeFilter,
    LabelFilter,
    EntryPeriodFilter,
    PickupFilter,
    PaidByDelegationFilter,
    ReuseFilter,
    VisitorStatusFilter,
    SexFilter,
    AgeBandFilter,
    LabelUpgradeFilter,
)


# --- Units ----------------------------------------------------------------------------------


class UnitStatusFilter(ChoicesFilter):
    title = _("unit status")
    parameter_name = field = "status"
    choices_class = Unit.Status


UNIT_FILTERS = (UnitStatusFilter,)
