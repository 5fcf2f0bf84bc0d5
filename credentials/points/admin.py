"""积分 in the admin: the rules per edition (audited, with a catch-up action), the coupon
offers with their stock and the page that loads codes, the codes (read-only; who holds each),
and the ledger (read-only) with the page that adjusts a unit's points. Every write calls the
services; imported from ``wiring``."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin
from ciie_portal.timefmt import local_text

from .forms import AdjustmentForm, CodesLoadForm
from .models import Coupon, CouponBatch, PointsEntry, PointsRule
from .services import coupons_load, points_adjust, points_catch_up

ADJUST = "credentials.adjust_points"


@admin.register(PointsRule)
class PointsRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("kind", "points", "edition")
    list_filter = ("edition", "kind")
    list_select_related = ("edition",)
    fields = ("edition", "kind", "points")
    actions = ["catch_up"]

    @admin.action(description=_("Award now the events of these rules' editions not counted yet"))
    def catch_up(self, request, queryset):
        found = 0
        for rule in queryset.select_related("edition").distinct():
            found += sum(points_catch_up(edition=rule.edition).values())
        self.message_user(
            request,
            gettext("%(n)d events awarded that had no points yet.") % {"n": found},
            messages.SUCCESS if found else messages.INFO,
        )


@admin.register(CouponBatch)
class CouponBatchAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "edition", "cost", "valid_until", "on_offer", "stock", "left", "load")
    list_filter = ("edition", "on_offer")
    search_fields = ("name", "name_en")
    list_select_related = ("edition",)
    fieldsets = (
        (None, {"fields": ("edition", "name", "name_en", "cost", "valid_until", "on_offer")}),
        (_("Description"), {"fields": ("description", "description_en")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                stock_n=Count("coupons"),
                left_n=Count("coupons", filter=Q(coupons__exchanged_by__isnull=True)),
            )
        )

    @admin.display(description=_("codes loaded"), ordering="stock_n")
    def stock(self, batch):
        return batch.stock_n

    @admin.display(description=_("codes left"), ordering="left_n")
    def left(self, batch):
        return batch.left_n

    @admin.display(description=_("codes"))
    def load(self, batch):
        url = reverse("admin:credentials_couponbatch_load", args=[batch.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Load codes"))

    def get_urls(self):
        load = self.admin_site.admin_view(self.load_view)
        return [
            path("<int:pk>/load/", load, name="credentials_couponbatch_load"),
            *super().get_urls(),
        ]

    def load_view(self, request, pk):
        batch = get_object_or_404(CouponBatch, pk=pk)
        if not self.has_change_permission(request, batch):
            raise PermissionDenied
        report = None
        form = CodesLoadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            report = coupons_load(batch=batch, text=form.cleaned_data["text"], actor=request.user)
            level = messages.SUCCESS if not report.refused else messages.WARNING
            self.message_user(
                request,
                gettext("%(added)d codes added, %(refused)d refused.")
                % {"added": report.added, "refused": len(report.refused)},
                level,
            )
            if not report.refused:
                return redirect("admin:credentials_couponbatch_changelist")
            form = CodesLoadForm()
        return TemplateResponse(
            request,
            "credentials/points/admin_codes_load.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": gettext("Load codes: %(offer)s") % {"offer": batch.name},
                "batch": batch,
                "form": form,
                "report": report,
                "media": self.media + form.media,
            },
        )


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "batch", "exchanged_by", "exchanged")
    list_filter = ("batch__edition", "batch", ("exchanged_by", admin.EmptyFieldListFilter))
    search_fields = ("code", "exchanged_by__name")
    list_select_related = ("batch", "exchanged_by")
    fields = ("batch", "code", "loaded", "exchanged_by", "exchanged")
    readonly_fields = fields

    @admin.display(description=_("exchanged (Beijing)"), ordering="exchanged_at")
    def exchanged(self, coupon):
        return local_text(coupon.exchanged_at) or "—"

    @admin.display(description=_("loaded (Beijing)"), ordering="loaded_at")
    def loaded(self, coupon):
        return local_text(coupon.loaded_at)


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("time", "unit", "visitor", "kind", "points", "note", "source_key")
    list_filter = ("edition", "kind")
    search_fields = ("unit__name", "visitor__name", "source_key", "note")
    list_select_related = ("unit", "visitor")
    fields = (
        "edition",
        "unit",
        "visitor",
        "kind",
        "points",
        "source_key",
        "coupon",
        "note",
        "created_by",
        "time",
    )
    readonly_fields = fields
    list_per_page = 100
    change_list_template = "credentials/points/admin_entry_change_list.html"

    @admin.display(description=_("time (Beijing)"), ordering="created_at")
    def time(self, entry):
        return local_text(entry.created_at)

    def get_urls(self):
        adjust = self.admin_site.admin_view(self.adjust_view)
        return [
            path("adjust/", adjust, name="credentials_pointsentry_adjust"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "points_adjust_url": reverse("admin:credentials_pointsentry_adjust")
            if request.user.has_perm(ADJUST)
            else None,
        }
        return super().changelist_view(request, extra_context)

    def adjust_view(self, request):
        if not request.user.has_perm(ADJUST):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = points_adjust(
                    unit=data["unit"],
                    visitor=data["visitor"],
                    points=data["points"],
                    reason=data["reason"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    gettext("%(points)+d points for %(unit)s.")
                    % {"points": entry.points, "unit": data["unit"].name},
                    messages.SUCCESS,
                )
                return redirect("admin:credentials_pointsentry_changelist")
        return TemplateResponse(
            request,
            "credentials/points/admin_adjust.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": gettext("Adjust a unit's points"),
                "form": form,
                "media": self.media + form.media,
            },
        )
