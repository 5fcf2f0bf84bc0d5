"""Admin list filters for the secretaries' unit and visitor lists, each choice with its count.

The counts are those of the list's scope (``model_admin.get_queryset(request)``: the user's
delegation subtree), one aggregate query per filter, so the changelist costs the same number of
queries for ten visitors or ten thousand. When the admin's own facet counts are switched on
(``?_facets``) those are shown instead, as Django computes them within the other active filters.
"""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from ciie_portal.models import EntryPeriod
from registration.models import Label, PersonType, Pickup, Unit, Visitor

NONE = "none"
YES = "yes"
NO = "no"


class CountedListFilter(admin.SimpleListFilter):
    """A filter on one field whose choices show how many rows of the list each would keep.

    Subclasses set ``field`` and ``options()``: (value in the query string, label, value in the
    database) for each choice.
    """

    field: str

    def options(self, request, model_admin) -> list[tuple[str, str, object]]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        options = self.options(request, model_admin)
        self.db_values = {value: db_value for value, _label, db_value in options}
        counts = self.counts_in_scope(request, model_admin)
        self.counts = {value: counts.get(db_value, 0) for value, _label, db_value in options}
        return [(value, label) for value, label, _db_value in options]

    def counts_in_scope(self, request, model_admin) -> dict:
        """Rows per value of ``field`` in the list's scope: one GROUP BY query.

        Kept on the request: the admin builds the filters again when it computes facets.
        """
        cache = request.__dict__.setdefault("_counted_filters", {})
        key = (model_admin.model._meta.label, self.field)
        if key not in cache:
            rows = (
                model_admin.get_queryset(request)
                .order_by()
                .values(self.field)
                .annotate(n=Count("pk"))
            )
            cache[key] = {row[self.field]: row["n"] for row in rows}
        return cache[key]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value not in self.db_values:
            raise IncorrectLookupParameters(f"{self.parameter_name}={value!r}")
        return queryset.filter(**{self.field: self.db_values[value]})

    def choices(self, changelist):
        if changelist.add_facets:
            yield from super().choices(changelist)
            return
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": f"{label} ({self.counts[value]})",
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


class CredentialStatusFilter(YesNoFilter):
    # 证件状态: for now whether last edition's credential can still be used; the credential
    # orders will add their own states here.
    title = _("credential status")
    parameter_name = "credential"
    field = "needs_new_credential"
    yes_label = _("Needs a new credential")
    no_label = _("No new credential needed")


VISITOR_FILTERS = (
    PersonTypeFilter,
    LabelFilter,
    EntryPeriodFilter,
    PickupFilter,
    PaidByDelegationFilter,
    ReuseFilter,
    VisitorStatusFilter,
    CredentialStatusFilter,
)


# --- Units ----------------------------------------------------------------------------------


class UnitStatusFilter(ChoicesFilter):
    title = _("unit status")
    parameter_name = field = "status"
    choices_class = Unit.Status


UNIT_FILTERS = (UnitStatusFilter,)
