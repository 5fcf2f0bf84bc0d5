from urllib.parse import parse_qsl, urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal import crypto
from ciie_portal.admin import AuditedAdminMixin
from ciie_portal.admin_lists import ListCellsMixin, boolean_icon
from ciie_portal.choices import Region
from ciie_portal.context_processors import current_edition_for
from ciie_portal.countries import country_name
from ciie_portal.spreadsheets import csv_rows_write
from registration.admin_watchlist import WatchlistVisitorAdminMixin
from registration.list_filters import visitor_list_annotate, visitor_list_column
from registration.models import DeliveryAddress, Label, PersonType, Unit, Visitor
from registration.returning import one_click_invite_send
from registration.services import UNIT_INFO_FIELDS, unit_delegation_change
from registration.validators import ID_TYPES, validate_id_number

from .filters import (
    UNIT_FILTERS,
    VISITOR_FILTERS,
    EditionFilter,
    LabelFilter,
    PaidByDelegationFilter,
    list_counts,
    list_edition,
    registered_visitor_filters,
    scope_rows,
)
from .models import Delegation, DelegationContact, DelegationQuota, Secretary
from .paid_by import (
    paid_by_preview,
    units_mark_paid_by_delegation,
    visitors_mark_paid_by_delegation,
)
from .selectors import is_organiser, scope_to_user
from .services import quota_limits, quota_usage, units_review, visitors_label, visitors_lock


class DelegationContactInline(admin.TabularInline):
    model = DelegationContact
    extra = 0
    fields = ["position", "office", "persons", "phone", "email"]


class SubDelegationInline(admin.TabularInline):
    model = Delegation
    fk_name = "parent"
    extra = 0
    fields = ["position", "name", "name_en", "code", "contact_unit", "is_active"]
    show_change_link = True
    verbose_name = _("sub-delegation")
    verbose_name_plural = _("sub-delegations")


class IsGroupFilter(admin.SimpleListFilter):
    title = _("level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("group", _("Trade delegation")), ("sub", _("Sub-delegation"))]

    def queryset(self, request, queryset):
        if self.value() == "group":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(Delegation)
class DelegationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "name_en", "parent", "contact_unit", "sub_delegations", "is_active"]
    list_filter = [IsGroupFilter, "is_active"]
    list_select_related = ["parent"]
    search_fields = ["name", "name_en", "code", "contact_unit", "contacts__persons"]
    prepopulated_fields = {}
    inlines = [DelegationContactInline, SubDelegationInline]
    ordering = ["position", "pk"]
    fieldsets = [
        (None, {"fields": ["name", "name_en", "code", "parent", "position", "is_active"]}),
        (_("Secretariat"), {"fields": ["contact_unit", "province_code"]}),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).annotate(sub_count=Count("children"))
        return scope_to_user(queryset, request.user, delegation_field="pk")

    def get_search_results(self, request, queryset, search_term):
        """The fields above, and the names' pinyin and its initials (``guangzhou``, ``gz``)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return found, may_have_duplicates
        # The table holds a few hundred rows at most: matching pinyin in Python is cheap.
        by_pinyin = [
            delegation.pk
            for delegation in queryset.select_related(None).only("pk", "name", "name_en")
            if delegation.matches(search_term)
        ]
        if not by_pinyin:
            return found, may_have_duplicates
        pks = {*found.values_list("pk", flat=True), *by_pinyin}
        return queryset.filter(pk__in=pks), False

    @admin.display(description=_("sub-delegations"), ordering="sub_count")
    def sub_delegations(self, obj):
        return obj.sub_count


@admin.register(Secretary)
class SecretaryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "delegation"]
    list_select_related = ["user", "delegation"]
    search_fields = ["user__username", "delegation__name"]
    autocomplete_fields = ["user", "delegation"]


class DelegationScopedAdmin(ListCellsMixin, admin.ModelAdmin):
    """Secretaries see only their own delegation's subtree; see ``scope_to_user``. Their lists
    are long: the rows' checkboxes are written without a template each (``ListCellsMixin``).

    Every change goes through an action that calls a service, so the forms are read-only.
    """

    delegation_field = "delegation"

    def get_queryset(self, request):
        return scope_to_user(
            super().get_queryset(request), request.user, delegation_field=self.delegation_field
        )

    def counts_in_one_pass(self, request) -> bool:
        """A secretary's list holds one delegation's rows: its filters' counts are made in
        one pass (``list_counts``) instead of a count of the rows first."""
        return not is_organiser(request.user)

    def get_readonly_fields(self, request, obj=None):
        editable = {"delegation"} if request.user.has_perm("registration.view_all_units") else set()
        names = [f.name for f in self.model._meta.fields if f.name not in editable]
        return [*names, *self.readonly_fields]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "delegation":
            kwargs["queryset"] = scope_to_user(
                Delegation.objects.all(), request.user, delegation_field="pk"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # 交易团代付, for the unit and visitor admins that list these actions.
    @admin.action(description=_("Mark as paid by the delegation"), permissions=["change"])
    def mark_paid_by_delegation(self, request, queryset):
        return self._paid_by(request, queryset, paid=True, action="mark_paid_by_delegation")

    @admin.action(description=_("Undo paid by the delegation"), permissions=["change"])
    def undo_paid_by_delegation(self, request, queryset):
        return self._paid_by(request, queryset, paid=False, action="undo_paid_by_delegation")

    def _paid_by(self, request, queryset, *, paid: bool, action: str):
        """交易团代付 and its undoing: a confirmation page listing what changes and what is
        refused (like Django's delete confirmation), then the service on "Yes"."""
        is_units = self.model is Unit
        if not queryset.exists():
            # The selection lay outside the user's delegation: the scoped queryset is empty.
            self.message_user(request, _("Nothing selected that you may change."), messages.ERROR)
            return None
        if request.POST.get("post") == "yes":
            call = units_mark_paid_by_delegation if is_units else visitors_mark_paid_by_delegation
            try:
                change = call(
                    **{"units" if is_units else "visitors": queryset},
                    paid=paid,
                    actor=request.user,
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return None
            self.message_user(request, change.summary(), messages.SUCCESS)
            if change.refusals:
                self.message_user(
                    request,
                    _("Not changed: %(refusals)s") % {"refusals": " ".join(change.refusals)},
                    messages.WARNING,
                )
            return None
        preview = paid_by_preview(**{"units" if is_units else "visitors": queryset}, paid=paid)
        title = _("Mark as paid by the delegation") if paid else _("Undo paid by the delegation")
        return TemplateResponse(
            request,
            "admin/delegations/paid_by_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "change": preview,
                "shown_visitors": preview.visitors[:PAID_BY_SHOWN],
                "more_visitors": max(len(preview.visitors) - PAID_BY_SHOWN, 0),
                "selected": list(queryset.values_list("pk", flat=True)),
                "action": action,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _report(self, request, call, success):
        """Run a service; say how many rows it changed, or why it refused."""
        try:
            count = call()
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, success(count), messages.SUCCESS)


# The confirmation page of 交易团代付 names at most this many visitors that change (all refusals).
PAID_BY_SHOWN = 200


class DeliveryAddressInline(admin.TabularInline):
    model = DeliveryAddress
    extra = 0
    fields = ["recipient", "mobile", "address", "postcode", "is_default"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Unit)
class UnitAdmin(AuditedAdminMixin, DelegationScopedAdmin):
    list_display = [
        "name", "uscc", "category", "delegation", "status", "paid_by_delegation", "submitted_at",
    ]  # fmt: skip
    list_filter = [*UNIT_FILTERS, PaidByDelegationFilter, "category", "region", "kind", "edition"]
    list_select_related = ["delegation", "edition"]
    search_fields = ["name", "uscc", "account_number"]
    # Units fill in their own information; the admin shows it and reviews it.
    readonly_fields = [
        "status", "edition", "account", "submitted_at", "created_at", "updated_at",
        "licence_link", *UNIT_INFO_FIELDS[2:], "info_saved_at", "previous",
    ]  # fmt: skip
    inlines = [DeliveryAddressInline]
    show_full_result_count = False
    # The one field the admin edits (organisers only); the rest is the unit's own data.
    audited_fields = ("delegation",)

    def save_model(self, request, obj, form, change):
        """Organisers may move a unit to another delegation: through the service, which writes
        only that field on the locked row, audits it, and ends 证件复用 for the unit's visitors
        (the delegation is printed on the card). The mixin adds the old and new delegation by
        name (``config.change``)."""
        if change and "delegation" in form.changed_data:
            unit_delegation_change(
                unit=obj,
                delegation=obj.delegation,
                actor=request.user,
                reason=_("Changed in the admin"),
            )
        elif not change:
            super().save_model(request, obj, form, change)

    fieldsets = [
        (None, {"fields": [
            "edition", "delegation", "status", "paid_by_delegation", "submitted_at",
        ]}),
        (_("Unit"), {"fields": [
            "region", "category", "kind", "name", "short_name", "uscc", "account_number",
            "recommendation_code", "invitation_code", "licence_link",
        ]}),
        (_("Unit information"), {"fields": [*UNIT_INFO_FIELDS[2:], "info_saved_at"]}),
        (_("Record"), {"fields": ["account", "previous", "created_at", "updated_at"]}),
    ]  # fmt: skip

    actions = [
        "review_approve", "review_return", "review_reject", "mark_paid_by_delegation",
        "undo_paid_by_delegation", "send_one_click_invite",
    ]  # fmt: skip

    @admin.action(description=_("Approve the selected units"), permissions=["change"])
    def review_approve(self, request, queryset):
        self._report(
            request,
            lambda: units_review(units=queryset, decision="approve", actor=request.user),
            lambda n: ngettext("%(n)d unit approved.", "%(n)d units approved.", n) % {"n": n},
        )

    @admin.action(description=_("Return the selected units for changes"), permissions=["change"])
    def review_return(self, request, queryset):
        return self._review_with_reason(request, queryset, "return")

    @admin.action(description=_("Reject the selected units"), permissions=["change"])
    def review_reject(self, request, queryset):
        return self._review_with_reason(request, queryset, "reject")

    def _review_with_reason(self, request, queryset, decision):
        """退回修改 and 审核不通过 need a reason: ask for it on an intermediate page."""
        if "reason" in request.POST:
            reason = request.POST["reason"]
            self._report(
                request,
                lambda: units_review(
                    units=queryset, decision=decision, actor=request.user, reason=reason
                ),
                lambda n: ngettext("%(n)d unit reviewed.", "%(n)d units reviewed.", n) % {"n": n},
            )
            return None
        return TemplateResponse(
            request,
            "admin/delegations/unit_review_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Return for changes") if decision == "return" else _("Reject"),
                "units": queryset,
                "action": f"review_{decision}",
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(
        description=_("Send the one-click registration link (earlier editions)"),
        permissions=["invite"],
    )
    def send_one_click_invite(self, request, queryset):
        sent = one_click_invite_send(
            units=queryset, actor=request.user, base_url=request.build_absolute_uri("/")
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d unit was sent its one-click registration link.",
                "%(n)d units were sent their one-click registration link.",
                sent,
            )
            % {"n": sent},
            messages.SUCCESS,
        )

    def has_invite_permission(self, request):
        # Organisers only: they see every delegation's units.
        return request.user.has_perm("registration.view_all_units")

    @admin.display(description=_("qualification document"))
    def licence_link(self, obj):
        if not obj.licence:
            return "—"
        return format_html(
            '<a href="{}" target="_blank">{}</a>',
            reverse("delegations:unit_licence", args=[obj.pk]),
            _("view"),
        )


# The apps built on this one act on visitors too (credentials: 注销), but this app may not import
# them: each registers its visitor-list actions here, from its AppConfig.ready().
_visitor_actions_of_other_apps: list = []


def visitor_action_register(action) -> None:
    """Offer ``action`` (an ``@admin.action`` function) on the visitor list, after its own."""
    if action not in _visitor_actions_of_other_apps:
        _visitor_actions_of_other_apps.append(action)


def id_number_index_of(term: str) -> str | None:
    """The blind index of ``term`` if it is a valid number of any ID document, else None: the
    ID number is stored only encrypted, so it is found by its index, never by LIKE."""
    number = crypto.normalize_id(term)
    for id_type in ID_TYPES:
        try:
            validate_id_number(id_type, number)
        except ValidationError:
            continue
        return crypto.blind_index(number)
    return None


# A search word found in more units than this looks for their visitors through a subquery.
SEARCH_UNITS_LISTED = 500


def _search_words(term: str):
    """The words of a search, as the admin splits them ("quoted words" stay one)."""
    for word in smart_split(term):
        if word[0] in "\"'" and word[-1] == word[0]:
            word = unescape_string_literal(word)
        yield word


class VisitorChangeList(ChangeList):
    """Adds the columns other apps registered (证件状态, the fee) to the page's rows only: one
    subquery each, never in the counts, filters or actions.

    The page's query chooses its rows in a subquery and reads the columns for those only. As
    subqueries of the page's query itself, PostgreSQL would reckon them for every row the page
    is chosen from: a plan reckoned that dear is compiled (JIT), which alone costs 40 ms.
    """

    def get_results(self, request):
        # Each row's link keeps the list's filters (``?_changelist_filters=…``). Django's
        # ``add_preserved_filters`` resolves every row's URL to find that out; the query is
        # the same for every row, so it is written once here (``url_for_result``).
        self.row_query = urlencode(dict(parse_qsl(self.preserved_filters)))
        self.preserved_filters = ""
        if self.lists_whole_scope(request):
            # The filters count these same rows first (``scope_rows``): the paginator takes
            # that number instead of counting them again (``VisitorAdmin.get_paginator``).
            self.queryset.counted_rows = scope_rows(self, request)
        super().get_results(request)
        page = self.result_list
        rows = self.apply_select_related(self.root_queryset).filter(pk__in=page.values("pk"))
        self.result_list = visitor_list_annotate(rows).order_by(*page.query.order_by)

    def url_for_result(self, result):
        url = super().url_for_result(result)
        return f"{url}?{self.row_query}" if self.row_query else url

    def lists_whole_scope(self, request) -> bool:
        """Whether the list shows all of what its filters count: no filter but the edition,
        no search, the portal's counts (not Django's facets), and a page to show."""
        return (
            request.method == "GET"
            and not self.add_facets
            and not self.query
            and set(self.get_filters_params()) <= {EditionFilter.parameter_name}
        )


@admin.register(Visitor)
class VisitorAdmin(WatchlistVisitorAdminMixin, DelegationScopedAdmin):
    delegation_field = "unit__delegation"
    # The columns of the organiser's guide (交易团/分团 人员列表).
    list_display = [
        "name",
        "region",
        "id_number_masked",
        "unit",
        "position",
        "label",
        "status",
        "entry_period",
        "fee",
        "pickup",
        "credential_status",
        # The two boolean columns with their icons made once (``boolean_icon``).
        "reuse_eligible_icon",
        "paid_by_delegation_icon",
        "reference",
    ]
    list_filter = [*VISITOR_FILTERS, "id_type", EditionFilter]
    list_select_related = ["unit", "entry_period"]
    # Newest first, by the index on (edition, id): ``Visitor.Meta.ordering`` sorts by the unit's
    # own ordering through a join, which PostgreSQL can only do by sorting the whole edition.
    ordering = ["-pk"]
    # Name, reference, unit name, USCC and registered address; an exact ID number through its
    # blind index (``get_search_results``).
    search_fields = ["name", "reference", "unit__name", "unit__uscc", "unit__street"]

    readonly_fields = [
        "edition", "unit", "reference", "person_type", "name", "id_type", "id_number_masked",
        "status", "photo_preview", "sex", "birth_date", "nationality", "surname_en",
        "given_name_en", "permit_name", "job_category", "position", "mobile", "email",
        "entry_period", "pickup", "address", "pledged_at", "sensitive_consent_at",
        "sensitive_consent_by", "submitted_at", "reuse_eligible", "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": [
            "edition", "unit", "reference", "status", "label", "paid_by_delegation",
            "photo_preview",
        ]}),
        (_("Person"), {"fields": [
            "person_type", "name", "surname_en", "given_name_en", "permit_name", "sex",
            "birth_date", "nationality", "id_type", "id_number_masked", "job_category",
            "position", "mobile", "email",
        ]}),
        (_("Credential"), {"fields": [
            "entry_period", "pickup", "address", "reuse_eligible", "pledged_at",
            "sensitive_consent_at", "sensitive_consent_by", "submitted_at", "created_at",
            "updated_at",
        ]}),
    ]  # fmt: skip

    def get_changelist(self, request, **kwargs):
        return VisitorChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(
            request, queryset, per_page, orphans, allow_empty_first_page
        )
        counted = getattr(queryset, "counted_rows", None)
        if counted is not None:
            paginator.count = counted  # the same rows, counted for the filters
        return paginator

    def get_list_filter(self, request):
        """Ours, then those other apps registered (证件状态), before the plain field filters."""
        shown = list(super().get_list_filter(request))
        at = shown.index("id_type")
        return [*shown[:at], *registered_visitor_filters(), *shown[at:]]

    def counted_queryset(self, request):
        """What the filters count: the list's scope within the list's edition."""
        queryset = self.get_queryset(request)
        edition = list_edition(request)
        return queryset if edition is None else queryset.filter(edition_id=edition)

    def get_search_results(self, request, queryset, search_term):
        """Every word is looked for in the visitor's name and reference number (a trigram
        index on PostgreSQL) and in the name, USCC and registered address of the units — found
        first in their small table, so that the visitors' condition is one their indexes
        serve; a term that is a valid number of an ID document also finds that exact ID number
        by its blind index (never LIKE on the encrypted number)."""
        if not search_term.strip():
            return queryset, False
        edition = list_edition(request)
        units = Unit.objects.all() if edition is None else Unit.objects.filter(edition_id=edition)
        found = Q()
        for word in _search_words(search_term):
            of_units = units.filter(
                Q(name__icontains=word) | Q(uscc__icontains=word) | Q(street__icontains=word)
            ).values_list("pk", flat=True)
            unit_ids = list(of_units[: SEARCH_UNITS_LISTED + 1])
            if len(unit_ids) > SEARCH_UNITS_LISTED:
                unit_ids = of_units  # a word most units hold: a subquery, not a long list
            found &= Q(name__icontains=word) | Q(reference__icontains=word) | Q(unit__in=unit_ids)
        index = id_number_index_of(search_term)
        if index:
            found |= Q(id_number_index=index)
        return queryset.filter(found), False

    @admin.display(description=_("country / region"), ordering="nationality")
    def region(self, obj):
        """国家/地区: the mainland for its people, the nationality or region of the others."""
        if obj.person_type == PersonType.MAINLAND:
            return Region.MAINLAND.label
        return country_name(obj.nationality) if obj.nationality else obj.get_person_type_display()

    def _registered(self, obj, name):
        column = visitor_list_column(name)
        if column is None or not hasattr(obj, name):
            return "—"
        return column.display(getattr(obj, name))

    @admin.display(
        description=Visitor._meta.get_field("reuse_eligible").verbose_name,
        ordering="reuse_eligible",
    )
    def reuse_eligible_icon(self, obj):
        return boolean_icon(obj.reuse_eligible)

    @admin.display(
        description=Visitor._meta.get_field("paid_by_delegation").verbose_name,
        ordering="paid_by_delegation",
    )
    def paid_by_delegation_icon(self, obj):
        return boolean_icon(obj.paid_by_delegation)

    @admin.display(description=_("fee (CNY)"))
    def fee(self, obj):
        return self._registered(obj, "order_fee")

    @admin.display(description=_("credential status"))
    def credential_status(self, obj):
        return self._registered(obj, "credential_status")

    @admin.display(description=_("photo"))
    def photo_preview(self, obj):
        if not obj.photo:
            return "—"
        return format_html(
            '<img src="{}" alt="" class="photo-preview">',
            reverse("delegations:visitor_photo", args=[obj.pk]),
        )

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    own_actions = [
        "label_vip", "label_staff", "label_visitor", "mark_paid_by_delegation",
        "undo_paid_by_delegation", "lock_submission", "export_csv",
    ]  # fmt: skip

    @property
    def actions(self):
        """Its own, then those other apps registered (``visitor_action_register``)."""
        return [*self.own_actions, *_visitor_actions_of_other_apps]

    @admin.action(description=_("Export the selected visitors (CSV)"), permissions=["view"])
    def export_csv(self, request, queryset):
        """The selection as a spreadsheet; ID numbers stay masked."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="visitors.csv"'
        rows = queryset.select_related("unit__delegation", "entry_period").order_by("pk")
        csv_rows_write(
            response,
            (
                [
                    visitor.reference, visitor.name, visitor.unit.name,
                    visitor.unit.delegation or "", visitor.get_person_type_display(),
                    visitor.id_number_masked, visitor.get_label_display(),
                    visitor.get_status_display(), visitor.entry_period or "",
                ]
                for visitor in rows.iterator(chunk_size=2000)
            ),
            titles=[
                _("reference number"), _("full name"), _("unit"), _("delegation"),
                _("person type"), _("ID number"), _("label"), _("status"), _("entry days"),
            ],
        )  # fmt: skip
        return response

    def _label(self, request, queryset, label):
        self._report(
            request,
            lambda: visitors_label(visitors=queryset, label=label, actor=request.user),
            lambda n: ngettext("%(n)d visitor labelled.", "%(n)d visitors labelled.", n) % {"n": n},
        )

    @admin.action(description=_("Label as VIP"), permissions=["change"])
    def label_vip(self, request, queryset):
        self._label(request, queryset, Label.VIP)

    @admin.action(description=_("Label as staff"), permissions=["change"])
    def label_staff(self, request, queryset):
        self._label(request, queryset, Label.STAFF)

    @admin.action(description=_("Label as professional visitor"), permissions=["change"])
    def label_visitor(self, request, queryset):
        self._label(request, queryset, Label.VISITOR)

    @admin.action(description=_("Lock submission (锁定提交)"), permissions=["change"])
    def lock_submission(self, request, queryset):
        self._report(
            request,
            lambda: visitors_lock(visitors=queryset, actor=request.user),
            lambda r: (
                _(
                    "%(to_pay)d visitor(s) now await payment (%(units)d unit(s) told by SMS and "
                    "email); %(to_review)d VIP or staff go straight to review."
                )
                % r
            ),
        )

    def changelist_view(self, request, extra_context=None):
        """Show the quota use (VIP 37/100) of the secretary's trade delegation, and how many
        visitors of the secretary's subtree are labelled professional visitor (专业观众 n
        已标记)."""
        extra_context = extra_context or {}
        secretary = getattr(request.user, "secretary", None)
        edition = current_edition_for(request)
        if secretary and edition:
            limits = quota_limits(delegation=secretary.delegation, edition=edition)
            used = quota_usage(delegation=secretary.delegation, edition=edition)
            extra_context["quota"] = [
                (Label(label).label, used[label], limits[label])
                for label in (Label.VIP, Label.STAFF)
            ]
        response = super().changelist_view(request, extra_context=extra_context)
        context = getattr(response, "context_data", None)
        if secretary and edition and context and "cl" in context:
            context["professionals"] = (
                Label.VISITOR.label,
                self._professionals(request, context["cl"], edition),
            )
        return response

    def _professionals(self, request, changelist, edition) -> int:
        """The secretary's subtree's visitors of ``edition`` labelled 专业观众: the label
        filter's count when the list counts that edition, else counted."""
        if list_edition(request) == edition.pk and not changelist.add_facets:
            counts = list_counts(changelist, request)
            if counts is not None and (LabelFilter.parameter_name, Label.VISITOR) in counts:
                return counts[LabelFilter.parameter_name, Label.VISITOR]
        return (
            self.get_queryset(request)
            .filter(edition=edition, label=Label.VISITOR)
            .order_by()
            .count()
        )


@admin.register(DelegationQuota)
class DelegationQuotaAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["delegation", "edition", "vip_limit", "staff_limit"]
    list_filter = ["edition"]
    list_select_related = ["delegation", "edition"]
    search_fields = ["delegation__name"]
    autocomplete_fields = ["delegation"]

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user)
