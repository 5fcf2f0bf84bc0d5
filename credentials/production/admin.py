"""Admin of batch production (证件制作): jobs (start, progress, stop, resume), print batches
(download, confirm printed, cancel) and credentials (card, revoke).

Imported from credentials/admin.py. Everything is read-only: changes go through the services
in credentials.production.services, each audited.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ciie_portal.access_log import access_record, access_record_many
from ciie_portal.admin import ReadOnlyAdminMixin
from ciie_portal.context_processors import current_edition_for
from ciie_portal.models import Edition
from ciie_portal.private_files import private_file_response
from ciie_portal.states import TransitionError
from credentials.entry.admin_holds import has_place_hold_permission, hold_holders
from delegations.models import Delegation
from delegations.selectors import scope_to_user
from registration.models import Label, Visitor

from .cards import entry_days_text
from .models import Credential, NameScript, PrintBatch, ProductionJob
from .selectors import producible_count
from .services import (
    credentials_revoke,
    job_lease_expired,
    print_batch_cancel,
    print_batch_confirm_printed,
    print_batch_status_csv,
    production_job_resume,
    production_job_start,
    production_job_stop,
)

START = "credentials.add_productionjob"
CONTROL = "credentials.change_productionjob"
REVOKE = "credentials.revoke_credential"
CONFIRM = "credentials.confirm_printbatch"


def scope(queryset, user, delegation_field: str):
    """What ``user`` may see: the credential office everything, anyone else what
    ``delegations.selectors.scope_to_user`` allows (organisers all, a secretary their
    delegation's subtree)."""
    if user.has_perm(START):
        return queryset
    return scope_to_user(queryset, user, delegation_field=delegation_field)


def _download(file_field, content_type: str, filename: str):
    return private_file_response(file_field, content_type=content_type, filename=filename)


# --- Production jobs ------------------------------------------------------------------------


class ProductionStartForm(forms.Form):
    edition = forms.ModelChoiceField(label=_("edition"), queryset=Edition.objects.all())
    delegation = forms.ModelChoiceField(
        label=_("delegation"),
        queryset=Delegation.objects.filter(is_active=True).select_related("parent"),
        required=False,
        empty_label=_("Every delegation"),
        help_text=_("With its sub-delegations."),
    )
    label = forms.ChoiceField(
        label=_("label"), choices=[("", _("Every label")), *Label.choices], required=False
    )
    script = forms.ChoiceField(
        label=_("name script"),
        choices=[("", _("Every name")), *NameScript.choices],
        required=False,
        help_text=_("Latin and non-Latin names can go to the printer in separate batches."),
    )
    chunk_size = forms.IntegerField(
        label=_("credentials per print batch"),
        initial=100,
        min_value=4,
        max_value=1000,
        help_text=_("A multiple of 4: an A4 sheet holds four A6 cards."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Trade delegations first, each followed by its sub-delegations (indented).
        delegations = sorted(
            self.fields["delegation"].queryset,
            key=lambda d: (
                (d.parent.position, d.parent_id, 1, d.position, d.pk)
                if d.parent_id
                else (d.position, d.pk, 0, 0, 0)
            ),
        )
        self.fields["delegation"].choices = [("", _("Every delegation"))] + [
            (d.pk, f"— {d.name}" if d.parent_id else d.name) for d in delegations
        ]

    def clean_chunk_size(self):
        value = self.cleaned_data["chunk_size"]
        if value % 4:
            raise ValidationError(_("Use a multiple of 4."))
        return value


@admin.register(ProductionJob)
class ProductionJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "edition",
        "selection",
        "status",
        "progress",
        "batches",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "edition"]
    list_select_related = ["edition", "delegation", "created_by"]
    ordering = ["-created_at", "-pk"]
    change_form_template = "admin/credentials/production_job_change.html"
    fieldsets = [
        (None, {"fields": ["edition", "selection", "chunk_size", "status", "progress"]}),
        (_("Counts"), {"fields": ["total", "done", "print_batches", "revoked"]}),
        (
            _("Record"),
            {
                "fields": [
                    "created_by",
                    "created_at",
                    "started_at",
                    "heartbeat_at",
                    "lease_owner",
                    "lease_until",
                    "finished_at",
                    "stop_requested",
                    "error",
                ]
            },
        ),
    ]
    readonly_fields = [
        "edition",
        "selection",
        "chunk_size",
        "status",
        "progress",
        "total",
        "done",
        "print_batches",
        "revoked",
        "created_by",
        "created_at",
        "started_at",
        "heartbeat_at",
        "lease_owner",
        "lease_until",
        "finished_at",
        "stop_requested",
        "error",
    ]

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "delegation")

    def has_add_permission(self, request, obj=None):
        # "Add" is the start form (add_view below), not a model form.
        return request.user.has_perm(START)

    @admin.display(description=_("selection"))
    def selection(self, job):
        parts = [job.delegation.name if job.delegation_id else str(_("Every delegation"))]
        if job.label:
            parts.append(job.get_label_display())
        if job.script:
            parts.append(job.get_script_display())
        return " · ".join(parts)

    @admin.display(description=_("print batches made"))
    def print_batches(self, job):
        """A link to the job's batches: a whole edition makes thousands, too many to inline."""
        return format_html(
            '<a href="{}?job__id__exact={}" id="production-batches-link">{}</a>',
            reverse("admin:credentials_printbatch_changelist"),
            job.pk,
            ngettext("%(count)d print batch", "%(count)d print batches", job.batches)
            % {"count": job.batches},
        )

    @admin.display(description=_("progress"))
    def progress(self, job):
        return f"{job.done} / {job.total} ({job.percent} %)"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress/",
                view(self.progress_view),
                name="credentials_productionjob_progress",
            ),
            path("<int:pk>/stop/", view(self.stop_view), name="credentials_productionjob_stop"),
            path(
                "<int:pk>/resume/", view(self.resume_view), name="credentials_productionjob_resume"
            ),
            *super().get_urls(),
        ]

    def _job(self, request, pk) -> ProductionJob:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return self.get_queryset(request).select_related("edition").get(pk=pk)
        except ProductionJob.DoesNotExist:
            raise Http404 from None

    def progress_view(self, request, pk):
        """What the job's page polls while it runs."""
        job = self._job(request, pk)
        return JsonResponse(
            {
                "status": job.status,
                "status_display": str(job.get_status_display()),
                "done": job.done,
                "total": job.total,
                "percent": job.percent,
                "batches": job.batches,
                "finished": job.is_finished,
                "error": job.error,
            }
        )

    def _control(self, request, pk, service, success):
        if request.method != "POST" or not request.user.has_perm(CONTROL):
            raise PermissionDenied
        job = self._job(request, pk)
        try:
            service(job=job, actor=request.user)
        except (ValidationError, TransitionError) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, text, messages.ERROR)
        else:
            self.message_user(request, success, messages.SUCCESS)
        return redirect("admin:credentials_productionjob_change", object_id=job.pk)

    def stop_view(self, request, pk):
        return self._control(
            request,
            pk,
            production_job_stop,
            _("The job stops after the print batch it is making."),
        )

    def resume_view(self, request, pk):
        return self._control(
            request,
            pk,
            production_job_resume,
            _("The job is queued: it goes on where it stopped, without making anything twice."),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_queryset(request).filter(pk=object_id).first()
        can_control = request.user.has_perm(CONTROL)
        extra_context = {
            **(extra_context or {}),
            "can_stop": bool(job and can_control and not job.is_finished),
            "can_resume": bool(
                job
                and can_control
                and (
                    job.is_finished
                    or (
                        job.status in (ProductionJob.Status.RUNNING, ProductionJob.Status.STOPPING)
                        and job_lease_expired(job)
                    )
                )
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """The start form (制证): choose the selection, see how many it holds, start."""
        if not request.user.has_perm(START):
            raise PermissionDenied
        edition = current_edition_for(request)
        count = None
        if request.method == "POST":
            form = ProductionStartForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                selection = {
                    "delegation": data["delegation"],
                    "label": data["label"],
                    "script": data["script"],
                }
                if "_count" in request.POST:
                    count = producible_count(edition_id=data["edition"].pk, **selection)
                else:
                    try:
                        job = production_job_start(
                            edition=data["edition"],
                            actor=request.user,
                            chunk_size=data["chunk_size"],
                            **selection,
                        )
                    except ValidationError as error:
                        form.add_error(None, error)
                    else:
                        self.message_user(
                            request,
                            _("%(job)s started.") % {"job": job},
                            messages.SUCCESS,
                        )
                        return redirect("admin:credentials_productionjob_change", object_id=job.pk)
        else:
            form = ProductionStartForm(initial={"edition": edition, "chunk_size": 100})
        return TemplateResponse(
            request,
            "admin/credentials/production_start.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Start credential production"),
                "opts": self.model._meta,
                "form": form,
                "adminform": admin.helpers.AdminForm(
                    form,
                    [
                        (
                            None,
                            {"fields": ["edition", "delegation", "label", "script", "chunk_size"]},
                        )
                    ],
                    {},
                ),
                "count": count,
            },
        )


# --- Print batches --------------------------------------------------------------------------


class BatchCredentialInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every card of the batch, with what became of it (a revoked card stays listed)."""

    model = Credential
    fk_name = "print_batch"
    extra = 0
    fields = ["number", "name", "unit_name", "label", "status", "revoked_at", "revoked_reason"]
    readonly_fields = fields
    ordering = ["sequence"]
    show_change_link = True


class _ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=250)


def _reason_page(modeladmin, request, queryset, *, action, title, button, intro):
    """The intermediate page of an action that needs a reason; None once it is given."""
    form = _ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        return None, form.cleaned_data["reason"]
    return (
        TemplateResponse(
            request,
            "admin/credentials/production_reason.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": title,
                "intro": intro,
                "button": button,
                "opts": modeladmin.model._meta,
                "objects": queryset,
                "form": form,
                "action": action,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        ),
        "",
    )


class PrintBatchRevokedFilter(admin.SimpleListFilter):
    title = _("revoked cards")
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("yes", _("With revoked cards"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(credentials__status=Credential.Status.REVOKED).distinct()
        return queryset


@admin.register(PrintBatch)
class PrintBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "job",
        "status",
        "cards",
        "sheets",
        "revoked_count",
        "first_number",
        "last_number",
        "made_at",
        "printed_at",
    ]
    list_filter = ["status", PrintBatchRevokedFilter, "edition", "job"]
    list_select_related = ["job"]
    search_fields = ["number", "first_number", "last_number", "credentials__number"]
    ordering = ["-made_at", "-pk"]
    actions = ["confirm_printed", "cancel"]
    inlines = [BatchCredentialInline]
    fieldsets = [
        (None, {"fields": ["number", "edition", "job", "status", "revoked_count"]}),
        (
            _("Files"),
            {"fields": ["downloads", "cards", "sheets", "first_number", "last_number"]},
        ),
        (_("Fingerprints"), {"fields": ["sheet_sha256", "manifest_sha256"]}),
        (_("Record"), {"fields": ["made_at", "printed_at", "cancelled_at"]}),
    ]
    readonly_fields = [
        "number",
        "edition",
        "job",
        "status",
        "revoked_count",
        "downloads",
        "cards",
        "sheets",
        "first_number",
        "last_number",
        "sheet_sha256",
        "manifest_sha256",
        "made_at",
        "printed_at",
        "cancelled_at",
    ]

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                revoked=Count(
                    "credentials", filter=Q(credentials__status=Credential.Status.REVOKED)
                )
            )
        )
        return scope(queryset, request.user, "job__delegation")

    def has_confirm_permission(self, request):
        return request.user.has_perm(CONFIRM)

    @admin.display(description=_("revoked since made"), ordering="revoked")
    def revoked_count(self, batch):
        return batch.revoked

    @admin.display(description=_("downloads"))
    def downloads(self, batch):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:credentials_printbatch_sheets", args=[batch.pk]),
            _("Print sheets (PDF)"),
            reverse("admin:credentials_printbatch_manifest", args=[batch.pk]),
            _("Manifest as made (CSV)"),
            reverse("admin:credentials_printbatch_status", args=[batch.pk]),
            _("Cards and their status now (CSV)"),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/sheets.pdf", view(self.sheets_view), name="credentials_printbatch_sheets"
            ),
            path(
                "<int:pk>/manifest.csv",
                view(self.manifest_view),
                name="credentials_printbatch_manifest",
            ),
            path(
                "<int:pk>/status.csv", view(self.status_view), name="credentials_printbatch_status"
            ),
            *super().get_urls(),
        ]

    def _batch(self, request, pk) -> PrintBatch:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return self.get_queryset(request).get(pk=pk)
        except PrintBatch.DoesNotExist:
            raise Http404 from None

    def sheets_view(self, request, pk):
        batch = self._batch(request, pk)
        response = _download(batch.sheet_pdf, "application/pdf", f"{batch.number}.pdf")
        visitors = Visitor.objects.filter(credentials__print_batch=batch).distinct()
        access_record_many(actor=request.user, objects=visitors, what="photo", via=request.path)
        return response

    def manifest_view(self, request, pk):
        batch = self._batch(request, pk)
        return _download(batch.manifest, "text/csv; charset=utf-8", f"{batch.number}.csv")

    def status_view(self, request, pk):
        batch = self._batch(request, pk)
        response = HttpResponse(
            print_batch_status_csv(batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{batch.number}-status.csv"'
        return response

    @admin.action(description=_("Confirm the selected batches printed"), permissions=["confirm"])
    def confirm_printed(self, request, queryset):
        done, revoked = 0, 0
        for batch in queryset.order_by("pk"):
            try:
                revoked += print_batch_confirm_printed(batch=batch, actor=request.user)
            except TransitionError as error:
                self.message_user(request, f"{batch}: {error}", messages.WARNING)
                continue
            done += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d print batch confirmed printed.",
                "%(count)d print batches confirmed printed.",
                done,
            )
            % {"count": done},
            messages.SUCCESS,
        )
        if revoked:
            self.message_user(
                request,
                ngettext(
                    "%(count)d of their cards was revoked after it was made: destroy it, do not "
                    "issue it (see the batch's status list).",
                    "%(count)d of their cards were revoked after they were made: destroy them, "
                    "do not issue them (see the batches' status lists).",
                    revoked,
                )
                % {"count": revoked},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel the selected batches"), permissions=["confirm"])
    def cancel(self, request, queryset):
        page, reason = _reason_page(
            self,
            request,
            queryset,
            action="cancel",
            title=_("Cancel print batches"),
            button=_("Cancel the batches"),
            intro=_(
                "Their credentials are revoked: a sheet that was printed anyway is refused at "
                "the gate. Their visitors get new credentials, with new numbers, on the next "
                "production run."
            ),
        )
        if page is not None:
            return page
        batches, revoked = 0, 0
        for batch in queryset.order_by("pk"):
            try:
                revoked += print_batch_cancel(batch=batch, actor=request.user, reason=reason)
            except (TransitionError, ValidationError) as error:
                self.message_user(request, f"{batch}: {error}", messages.WARNING)
                continue
            batches += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d print batch cancelled, %(revoked)d credentials revoked.",
                "%(count)d print batches cancelled, %(revoked)d credentials revoked.",
                batches,
            )
            % {"count": batches, "revoked": revoked},
            messages.SUCCESS,
        )


# --- Credentials ----------------------------------------------------------------------------


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "name",
        "unit_name",
        "delegation_name",
        "label",
        "entry_days",
        "status",
        "print_batch",
        "created_at",
    ]
    list_filter = ["status", "label", "print_batch__status", "edition"]
    list_select_related = ["print_batch"]
    search_fields = ["number", "name", "unit_name", "visitor__reference"]
    ordering = ["-created_at", "-pk"]
    show_full_result_count = False
    actions = ["revoke", hold_holders]
    has_place_hold_permission = has_place_hold_permission  # 安检暂停 (credentials.entry)
    fieldsets = [
        (None, {"fields": ["number", "edition", "status", "card"]}),
        (
            _("On the card"),
            {"fields": ["name", "unit_name", "delegation_name", "label", "entry_days"]},
        ),
        (_("Revocation"), {"fields": ["revoked_at", "revoked_reason", "replaced_by"]}),
        (
            _("Record"),
            {
                "fields": [
                    "visitor",
                    "print_batch",
                    "job",
                    "created_at",
                    "qr_payload",
                    "card_data_hash",
                ]
            },
        ),
    ]
    readonly_fields = [
        "number",
        "edition",
        "status",
        "card",
        "name",
        "unit_name",
        "delegation_name",
        "label",
        "entry_days",
        "revoked_at",
        "revoked_reason",
        "replaced_by",
        "visitor",
        "print_batch",
        "job",
        "created_at",
        "qr_payload",
        "card_data_hash",
    ]

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request.user, "visitor__unit__delegation")

    def has_revoke_permission(self, request):
        return request.user.has_perm(REVOKE)

    @admin.display(description=_("entry days"))
    def entry_days(self, credential):
        return entry_days_text(credential.first_day, credential.last_day)

    @admin.display(description=_("card (PDF)"))
    def card(self, credential):
        if not credential.card_pdf:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:credentials_credential_card", args=[credential.pk]),
            _("Open the card"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/card.pdf",
                self.admin_site.admin_view(self.card_view),
                name="credentials_credential_card",
            ),
            *super().get_urls(),
        ]

    def card_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            credential = self.get_queryset(request).get(pk=pk)
        except Credential.DoesNotExist:
            raise Http404 from None
        response = _download(credential.card_pdf, "application/pdf", f"{credential.number}.pdf")
        access_record(actor=request.user, obj=credential.visitor, what="photo", via=request.path)
        return response

    @admin.action(description=_("Revoke the selected credentials"), permissions=["revoke"])
    def revoke(self, request, queryset):
        page, reason = _reason_page(
            self,
            request,
            queryset,
            action="revoke",
            title=_("Revoke credentials"),
            button=_("Revoke"),
            intro=_(
                "A revoked credential is refused at the gate. Its visitor gets a new credential, "
                "with a new number, on the next production run."
            ),
        )
        if page is not None:
            return page
        try:
            count = credentials_revoke(credentials=queryset, reason=reason, actor=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext("%(count)d credential revoked.", "%(count)d credentials revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )
        return None
