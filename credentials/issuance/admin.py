"""证件发放 in the admin: parcels (credential office and organisers) and delegation pick-up lists
(secretaries see and confirm only their own delegation's).

The forms are read-only: packing, shipping and hand-over go through the services in
``credentials.issuance.services``, which record every change.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME, AdminForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.admin_uploads import UploadReportView
from ciie_portal.context_processors import current_edition_for
from credentials.production.models import Credential
from delegations.models import Delegation
from delegations.selectors import scope_to_user
from registration.models import Pickup

from .models import Parcel, ParcelItem, PickupItem, PickupList
from .selectors import issuable_credentials, pickup_list_rows
from .services import (
    parcel_ship,
    parcels_import_tracking,
    parcels_mark_delivered,
    parcels_pack,
    parcels_workbook,
    pickup_list_hand_over,
    pickup_lists_make,
)

ISSUE = "credentials.issue_credentials"
HAND_OVER = "credentials.hand_over_pickuplist"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REVOKED = Credential.Status.REVOKED


def _scoped(queryset, user, *, delegation_field: str):
    """The credential office and organisers see every parcel and list; a secretary those of
    their delegation's subtree; anyone else nothing."""
    if user.has_perm(ISSUE):
        return queryset
    return scope_to_user(queryset, user, delegation_field=delegation_field)


def _delegation_choices(delegations) -> list[tuple[str, str]]:
    """Trade delegations, each followed by its sub-delegations (marked "— ")."""
    delegations = list(delegations.order_by("position", "pk"))
    present = {d.pk for d in delegations}
    children: dict[int, list] = {}
    for delegation in delegations:
        if delegation.parent_id in present:
            children.setdefault(delegation.parent_id, []).append(delegation)
    choices = []
    for delegation in delegations:
        if delegation.parent_id not in present:  # a group, or a sub-delegation on its own
            prefix = "— " if delegation.parent_id else ""
            choices.append((str(delegation.pk), f"{prefix}{delegation}"))
            choices += [(str(kid.pk), f"— {kid}") for kid in children.get(delegation.pk, [])]
    return choices


class DelegationFilter(admin.SimpleListFilter):
    """A delegation and its sub-delegations; offers only the delegations the user may see."""

    title = _("delegation")
    parameter_name = "delegation"
    delegation_field = "delegation"

    def lookups(self, request, model_admin):
        return _delegation_choices(
            _scoped(Delegation.objects.all(), request.user, delegation_field="pk")
        )

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            delegation = Delegation(pk=int(self.value()))
        except ValueError:
            return queryset.none()
        subtree = Delegation.objects.subtree_of(delegation)
        return queryset.filter(**{f"{self.delegation_field}__in": subtree})


class UnitDelegationFilter(DelegationFilter):
    delegation_field = "unit__delegation"


def _credential_state(credential, *, still_here: bool):
    if credential.status != REVOKED:
        return credential.get_status_display()
    hint = _("take it out: its replacement is packed anew") if still_here else ""
    return format_html(
        '<strong class="revoked">{}</strong> {}',
        credential.get_status_display(),
        hint,
    )


class _ItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    @admin.display(description=_("credential number"))
    def credential_number(self, item):
        return item.credential.number

    @admin.display(description=_("visitor"))
    def visitor_name(self, item):
        return item.credential.visitor.name

    @admin.display(description=_("ID number"))
    def id_number(self, item):
        return item.credential.visitor.id_number_masked

    @admin.display(description=_("label"))
    def label(self, item):
        return item.credential.get_label_display()


class ParcelItemInline(_ItemInline):
    model = ParcelItem
    fields = ["position", "credential_number", "visitor_name", "id_number", "label", "state"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("credential__visitor", "parcel")

    @admin.display(description=_("credential status"))
    def state(self, item):
        return _credential_state(
            item.credential, still_here=item.parcel.status == Parcel.Status.PACKED
        )


class PickupItemInline(_ItemInline):
    model = PickupItem
    fields = ["credential_number", "visitor_name", "unit", "id_number", "label", "state"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("credential__visitor__unit", "pickup_list")
            .order_by("credential__visitor__unit__name", "credential__visitor__name", "pk")
        )

    @admin.display(description=_("unit"))
    def unit(self, item):
        return item.credential.visitor.unit.name

    @admin.display(description=_("credential status"))
    def state(self, item):
        return _credential_state(
            item.credential,
            still_here=item.pickup_list.status == PickupList.Status.PREPARED,
        )


class _IssuanceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    delegation_field = "delegation"
    show_full_result_count = False

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                credential_count=Count("items"),
                revoked_count=Count("items", filter=Q(items__credential__status=REVOKED)),
            )
        )
        return _scoped(queryset, request.user, delegation_field=self.delegation_field)

    def has_issue_permission(self, request) -> bool:
        return request.user.has_perm(ISSUE)

    @admin.display(description=_("credentials"), ordering="credential_count")
    def credentials(self, obj):
        return obj.credential_count

    @admin.display(description=_("revoked"), ordering="revoked_count")
    def revoked(self, obj):
        if not obj.revoked_count:
            return "—"
        return format_html('<strong class="revoked">{}</strong>', obj.revoked_count)

    def _edition_or_message(self, request):
        edition = current_edition_for(request)
        if edition is None:
            self.message_user(
                request,
                _("No edition is current: an organiser marks one as current."),
                messages.ERROR,
            )
        return edition

    def _make_view(self, request, *, pickup, title, intro, run, done):
        """The page behind the 打包 / 生成领取清单 button: what is waiting, then run."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        changelist = reverse(f"admin:credentials_{self.model._meta.model_name}_changelist")
        edition = self._edition_or_message(request)
        if edition is None:
            return redirect(changelist)
        if request.method == "POST":
            chosen = request.POST.get("delegation") or ""
            delegation = Delegation.objects.filter(pk=chosen).first() if chosen.isdigit() else None
            result = run(edition=edition, actor=request.user, delegation=delegation)
            self.message_user(request, done(result), messages.SUCCESS)
            return redirect(changelist)
        waiting = issuable_credentials(edition=edition, pickup=pickup)
        return TemplateResponse(
            request,
            "admin/credentials/issuance_make.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "intro": intro,
                "opts": self.model._meta,
                "edition": edition,
                "waiting": waiting.count(),
                "delegations": _delegation_choices(Delegation.objects.all()),
            },
        )


@admin.register(Parcel)
class ParcelAdmin(_IssuanceAdmin):
    delegation_field = "unit__delegation"
    change_list_template = "admin/credentials/issuance_parcel_change_list.html"
    list_display = [
        "number",
        "unit",
        "recipient",
        "credentials",
        "revoked",
        "status",
        "courier",
        "tracking_number",
        "packed_at",
        "shipped_at",
    ]
    list_filter = ["status", UnitDelegationFilter, "edition"]
    list_select_related = ["unit"]
    search_fields = ["number", "tracking_number", "recipient", "unit__name", "unit__uscc"]
    date_hierarchy = "packed_at"
    ordering = ["-packed_at", "-pk"]
    inlines = [ParcelItemInline]
    fieldsets = [
        (None, {"fields": ["number", "edition", "unit", "status"]}),
        (_("Delivery address"), {"fields": ["recipient", "mobile", "address_text", "postcode"]}),
        (
            _("Shipping"),
            {"fields": ["courier", "tracking_number", "shipped_at", "shipped_by", "delivered_at"]},
        ),
        (_("Record"), {"fields": ["packed_at", "packed_by"]}),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]
    actions = ["enter_tracking", "mark_delivered", "export_xlsx"]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("pack/", view(self.pack_view), name="credentials_parcel_pack"),
            path(
                "import-tracking/",
                view(TrackingImportView.as_view(admin_site=self.admin_site)),
                name="credentials_parcel_import_tracking",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_issue": self.has_issue_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    # --- 打包 -----------------------------------------------------------------------------------

    def pack_view(self, request):
        return self._make_view(
            request,
            pickup=Pickup.COURIER,
            title=_("Pack parcels"),
            intro=_(
                "Active, printed credentials of visitors who chose courier delivery and are in "
                "no parcel yet are packed: one unit, address and recipient per parcel, at most "
                "ten credentials each. Packing again never packs a credential twice."
            ),
            run=parcels_pack,
            done=lambda r: (
                ngettext(
                    "%(parcels)d parcel packed with %(credentials)d credentials.",
                    "%(parcels)d parcels packed with %(credentials)d credentials.",
                    r.parcels,
                )
                % {"parcels": r.parcels, "credentials": r.credentials}
                + (
                    " "
                    + _("%(n)d credentials were not packed: their visitor has no delivery address.")
                    % {"n": r.without_address}
                    if r.without_address
                    else ""
                )
            ),
        )

    # --- 录入快递单号 (tracking numbers) ---------------------------------------------------

    @admin.action(description=_("Enter tracking numbers"), permissions=["issue"])
    def enter_tracking(self, request, queryset):
        """An intermediate page: courier and tracking number for each selected packed parcel."""
        parcels = list(queryset.filter(status=Parcel.Status.PACKED).order_by("number"))
        if not parcels:
            self.message_user(
                request, _("None of the selected parcels is waiting to be shipped."), messages.ERROR
            )
            return None
        errors: dict[int, list[str]] = {}
        if "apply_tracking" in request.POST:
            default_courier = request.POST.get("courier_all", "")
            shipped = 0
            for parcel in parcels:
                tracking = request.POST.get(f"tracking_{parcel.pk}", "").strip()
                if not tracking:
                    continue
                courier = request.POST.get(f"courier_{parcel.pk}", "").strip() or default_courier
                try:
                    shipped += parcel_ship(
                        parcel_id=parcel.pk,
                        courier=courier,
                        tracking_number=tracking,
                        actor=request.user,
                    )
                except ValidationError as error:
                    errors[parcel.pk] = error.messages
            if shipped:
                self.message_user(
                    request,
                    ngettext(
                        "%(n)d parcel shipped; its recipient is told by SMS.",
                        "%(n)d parcels shipped; their recipients are told by SMS.",
                        shipped,
                    )
                    % {"n": shipped},
                    messages.SUCCESS,
                )
            if not errors:
                return None
            parcels = [parcel for parcel in parcels if parcel.pk in errors]
        rows = [
            {
                "parcel": parcel,
                "courier": request.POST.get(f"courier_{parcel.pk}", ""),
                "tracking": request.POST.get(f"tracking_{parcel.pk}", ""),
                "errors": errors.get(parcel.pk, []),
            }
            for parcel in parcels
        ]
        return TemplateResponse(
            request,
            "admin/credentials/issuance_tracking.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Enter tracking numbers"),
                "opts": self.model._meta,
                "rows": rows,
                "courier_all": request.POST.get("courier_all", ""),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Mark as delivered"), permissions=["issue"])
    def mark_delivered(self, request, queryset):
        count = parcels_mark_delivered(parcels=queryset, actor=request.user)
        self.message_user(
            request,
            ngettext(
                "%(n)d parcel marked as delivered.", "%(n)d parcels marked as delivered.", count
            )
            % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Export the selected parcels (.xlsx)"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        """The courier's list; fill in 快递公司 and 快递单号 and import it back."""
        stamp = timezone.localtime().strftime("%Y%m%d%H%M")
        response = HttpResponse(parcels_workbook(queryset), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="parcels-{stamp}.xlsx"'
        return response


class TrackingImportForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet (.xlsx)"),
        help_text=_(
            "Columns 包裹号 (parcel number), 快递公司 (courier) and 快递单号 (tracking number) "
            "under titles in row 1 — the parcel export, filled in, will do."
        ),
        widget=forms.FileInput(attrs={"accept": ".xlsx"}),
    )


class TrackingImportView(UploadReportView):
    """导入快递单号: upload the filled-in parcel export; every row is shipped or reported. No
    preview: the rows that pass are shipped as the file is read."""

    template_name = "admin/credentials/issuance_import.html"
    form_class = TrackingImportForm
    form_id = "tracking_import_form"
    title = _("Import tracking numbers")

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(ISSUE):
            raise PermissionDenied
        self.edition = current_edition_for(request)
        if self.edition is None:
            messages.error(request, _("No edition is current: an organiser marks one as current."))
            return redirect("admin:credentials_parcel_changelist")
        return super().dispatch(request, *args, **kwargs)

    def read(self, form):
        return parcels_import_tracking(
            rows_file=form.cleaned_data["file"], edition=self.edition, actor=self.request.user
        )

    def extra_context(self):
        return {"opts": Parcel._meta}


class HandOverForm(forms.Form):
    received_by_name = forms.CharField(label=_("Received by"), max_length=50)
    received_by_phone = forms.CharField(label=_("Receiver's phone"), max_length=30, required=False)


@admin.register(PickupList)
class PickupListAdmin(_IssuanceAdmin):
    change_list_template = "admin/credentials/issuance_pickuplist_change_list.html"
    list_display = [
        "number",
        "delegation",
        "credentials",
        "revoked",
        "status",
        "prepared_at",
        "received_by_name",
        "handed_over_at",
    ]
    list_filter = ["status", DelegationFilter, "edition"]
    list_select_related = ["delegation"]
    search_fields = ["number", "delegation__name", "received_by_name"]
    date_hierarchy = "prepared_at"
    ordering = ["-prepared_at", "-pk"]
    inlines = [PickupItemInline]
    fieldsets = [
        (None, {"fields": ["number", "edition", "delegation", "status"]}),
        (
            _("Hand-over"),
            {
                "fields": [
                    "received_by_name",
                    "received_by_phone",
                    "handed_over_at",
                    "handed_over_by",
                ]
            },
        ),
        (_("Record"), {"fields": ["prepared_at", "prepared_by"]}),
    ]
    readonly_fields = [
        *(name for _title, options in fieldsets for name in options["fields"]),
        "print_link",
        "hand_over_link",
    ]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("make/", view(self.make_view), name="credentials_pickuplist_make"),
            path(
                "<int:list_id>/print/", view(self.print_view), name="credentials_pickuplist_print"
            ),
            path(
                "<int:list_id>/hand-over/",
                view(self.hand_over_view),
                name="credentials_pickuplist_hand_over",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_issue": self.has_issue_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def has_hand_over_permission(self, request) -> bool:
        return request.user.has_perm(HAND_OVER)

    def get_list_display(self, request):
        extra = ["hand_over_link"] if self.has_hand_over_permission(request) else []
        return [*self.list_display, "print_link", *extra]

    def get_fieldsets(self, request, obj=None):
        extra = ["hand_over_link"] if self.has_hand_over_permission(request) else []
        (title, options), *rest = self.fieldsets
        return [(title, {"fields": [*options["fields"], "print_link", *extra]}), *rest]

    @admin.display(description=_("printable list"))
    def print_link(self, pickup_list):
        url = reverse("admin:credentials_pickuplist_print", args=[pickup_list.pk])
        return format_html('<a href="{}" target="_blank">{}</a>', url, _("Print"))

    @admin.display(description=_("hand-over"))
    def hand_over_link(self, pickup_list):
        if pickup_list.status != PickupList.Status.PREPARED:
            return "—"
        url = reverse("admin:credentials_pickuplist_hand_over", args=[pickup_list.pk])
        return format_html('<a href="{}">{}</a>', url, _("Confirm hand-over"))

    def _list_or_404(self, request, list_id) -> PickupList:
        pickup_list = (
            self.get_queryset(request).select_related("delegation", "edition").filter(pk=list_id)
        ).first()
        if pickup_list is None:  # another delegation's list does not exist for this user
            raise Http404(_("No such pick-up list."))
        return pickup_list

    def make_view(self, request):
        return self._make_view(
            request,
            pickup=Pickup.DELEGATION,
            title=_("Prepare pick-up lists"),
            intro=_(
                "Active, printed credentials of visitors who chose collection by the delegation "
                "and are on no list yet go on one new list per delegation."
            ),
            run=pickup_lists_make,
            done=lambda r: (
                ngettext(
                    "%(lists)d pick-up list prepared with %(credentials)d credentials.",
                    "%(lists)d pick-up lists prepared with %(credentials)d credentials.",
                    r.lists,
                )
                % {"lists": r.lists, "credentials": r.credentials}
            ),
        )

    def print_view(self, request, list_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        pickup_list = self._list_or_404(request, list_id)
        return TemplateResponse(
            request,
            "credentials/pickup_list_print.html",
            {"pickup_list": pickup_list, "items": pickup_list_rows(pickup_list)},
        )

    def hand_over_view(self, request, list_id):
        if not self.has_hand_over_permission(request):
            raise PermissionDenied
        pickup_list = self._list_or_404(request, list_id)
        change_url = reverse("admin:credentials_pickuplist_change", args=[pickup_list.pk])
        if pickup_list.status != PickupList.Status.PREPARED:
            self.message_user(
                request, _("This pick-up list was already handed over."), messages.WARNING
            )
            return redirect(change_url)
        form = HandOverForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = pickup_list_hand_over(
                    pickup_list_id=pickup_list.pk,
                    received_by_name=form.cleaned_data["received_by_name"],
                    received_by_phone=form.cleaned_data["received_by_phone"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if done:
                    self.message_user(
                        request,
                        _("Pick-up list %(number)s was handed over to %(name)s.")
                        % {
                            "number": pickup_list.number,
                            "name": form.cleaned_data["received_by_name"],
                        },
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(
                        request, _("This pick-up list was already handed over."), messages.WARNING
                    )
                return redirect(change_url)
        return TemplateResponse(
            request,
            "admin/credentials/issuance_hand_over.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Confirm hand-over of %(number)s") % {"number": pickup_list.number},
                "opts": self.model._meta,
                "pickup_list": pickup_list,
                "adminform": AdminForm(
                    form, [(None, {"fields": ["received_by_name", "received_by_phone"]})], {}
                ),
                "media": self.media + form.media,
            },
        )
