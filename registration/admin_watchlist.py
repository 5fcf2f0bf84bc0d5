"""关注名单 in the admin: security adds people (an ID number typed in clear is kept only as its
blind index), sees the matches, and — in the visitor list — a "watchlist" filter and column.
Everything here is for the holders of the watchlist permissions only: a secretary, and a unit,
never see that a visitor was matched."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, Prefetch
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import Visitor, WatchlistEntry, WatchlistMatch
from .watchlist import beijing_today, in_force, watchlist_add, watchlist_match

SEE_MATCHES = "registration.view_watchlistmatch"


# --- The visitor list (delegations.admin.VisitorAdmin) -----------------------------------------


class WatchlistFilter(admin.SimpleListFilter):
    title = _("watchlist")
    parameter_name = "watchlist"

    def lookups(self, request, model_admin):
        if not request.user.has_perm(SEE_MATCHES):
            return []
        return [("yes", _("On the watchlist")), ("no", _("Not on the watchlist"))]

    def queryset(self, request, queryset):
        if not request.user.has_perm(SEE_MATCHES) or self.value() not in ("yes", "no"):
            return queryset
        matched = Exists(WatchlistMatch.objects.filter(visitor_id=OuterRef("pk")))
        return queryset.filter(matched if self.value() == "yes" else ~matched)


class WatchlistVisitorAdminMixin:
    """Adds the watchlist filter, column and field to a visitor admin, for the holders of
    ``registration.view_watchlistmatch`` only."""

    def _sees_watchlist(self, request) -> bool:
        return request.user.has_perm(SEE_MATCHES)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._sees_watchlist(request):
            queryset = queryset.prefetch_related(
                Prefetch(
                    "watchlist_matches",
                    queryset=WatchlistMatch.objects.select_related("entry"),
                    to_attr="watchlist_found",
                )
            )
        return queryset

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        return [*shown, "watchlist"] if self._sees_watchlist(request) else shown

    def get_list_filter(self, request):
        shown = list(super().get_list_filter(request))
        return [WatchlistFilter, *shown] if self._sees_watchlist(request) else shown

    def get_readonly_fields(self, request, obj=None):
        shown = list(super().get_readonly_fields(request, obj))
        return [*shown, "watchlist"] if self._sees_watchlist(request) else shown

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if self._sees_watchlist(request):
            fieldsets.append((_("Watchlist"), {"fields": ["watchlist"]}))
        return fieldsets

    @admin.display(description=_("watchlist"))
    def watchlist(self, visitor):
        found = getattr(visitor, "watchlist_found", None)
        if found is None:
            found = list(visitor.watchlist_matches.select_related("entry"))
        if not found:
            return "—"
        return format_html_join(
            "; ", '<strong class="watchlist">{}</strong>', ((m.entry.reason,) for m in found)
        )


# --- The watchlist ----------------------------------------------------------------------------


class WatchlistEntryAddForm(forms.ModelForm):
    id_number = forms.CharField(
        label=_("ID number"),
        required=False,
        max_length=40,
        help_text=_("Kept only as a keyed hash: it cannot be read back, only matched."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = WatchlistEntry
        fields = ["name", "birth_date", "reason", "expires_on"]

    def clean(self):
        """What ``watchlist_add`` refuses, said on the form before anything is saved."""
        data = super().clean()
        if not (data.get("id_number") or "").strip() and not (
            (data.get("name") or "").strip() and data.get("birth_date")
        ):
            raise forms.ValidationError(_("Give an ID number, or a name with a date of birth."))
        expires_on = data.get("expires_on")
        if expires_on is not None and expires_on < beijing_today():
            self.add_error("expires_on", _("This day has already passed."))
        return data


class InForceFilter(admin.SimpleListFilter):
    title = _("in force")
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=in_force().values("pk"))
        if self.value() == "no":
            return queryset.exclude(pk__in=in_force().values("pk"))
        return queryset


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    # Never the ID number: not even its blind index is shown.
    list_display = [
        "__str__",
        "by_id_number",
        "birth_date",
        "reason",
        "expires_on",
        "is_active",
        "match_count",
        "created_by",
        "created_at",
    ]
    list_filter = [InForceFilter, "is_active"]
    search_fields = ["name", "reason"]
    list_select_related = ["created_by"]
    audited_fields = ("reason", "expires_on", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(match_total=Count("matches"))

    def has_delete_permission(self, request, obj=None):
        return False  # taken off by "active", so that its matches keep their reason

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return WatchlistEntryAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["id_number", "name", "birth_date", "reason", "expires_on"]
        return [
            "name",
            "birth_date",
            "by_id_number",
            "reason",
            "expires_on",
            "is_active",
            "match_count",
            "created_by",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["name", "birth_date", "by_id_number", "match_count", "created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            # Reactivated or extended: the current edition's visitors are matched again.
            watchlist_match(
                Visitor.objects.filter(edition__is_current=True),
                entries=WatchlistEntry.objects.filter(pk=obj.pk),
            )
            return
        entry = watchlist_add(
            id_number=form.cleaned_data.get("id_number", ""),
            name=form.cleaned_data.get("name", ""),
            birth_date=form.cleaned_data.get("birth_date"),
            reason=form.cleaned_data.get("reason", ""),
            expires_on=form.cleaned_data.get("expires_on"),
            actor=request.user,
        )
        obj.__dict__.update({k: v for k, v in entry.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.display(description=_("by ID number"), boolean=True)
    def by_id_number(self, entry):
        return bool(entry.id_number_index)

    @admin.display(description=_("matches"), ordering="match_total")
    def match_count(self, entry):
        total = getattr(entry, "match_total", None)
        return entry.matches.count() if total is None else total


@admin.register(WatchlistMatch)
class WatchlistMatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "visitor_link",
        "id_number",
        "edition",
        "unit",
        "reason",
        "matched_on",
        "matched_at",
    ]
    list_filter = ["matched_on", "visitor__edition"]
    search_fields = ["visitor__name", "visitor__reference", "entry__reason"]
    list_select_related = ["visitor__edition", "visitor__unit", "entry"]

    @admin.display(description=_("visitor"), ordering="visitor__name")
    def visitor_link(self, match):
        visitor = match.visitor
        try:
            url = reverse("admin:registration_visitor_change", args=[visitor.pk])
        except NoReverseMatch:
            return f"{visitor.name} ({visitor.reference})"
        return format_html('<a href="{}">{} ({})</a>', url, visitor.name, visitor.reference)

    @admin.display(description=_("ID number"))
    def id_number(self, match):
        return match.visitor.id_number_masked

    @admin.display(description=_("edition"), ordering="visitor__edition")
    def edition(self, match):
        return match.visitor.edition

    @admin.display(description=_("unit"))
    def unit(self, match):
        return match.visitor.unit

    @admin.display(description=_("reason"))
    def reason(self, match):
        return match.entry.reason
