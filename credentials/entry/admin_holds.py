"""安检暂停 in the admin: the security reviewer puts a visitor on hold (by the visitor's reference
number, from the review file) and lifts holds with a reason; the credential list offers "put
holders on security hold". Placed holds are never edited or deleted: every change goes through
``credentials.entry.holds``, which audits it."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credentials.production.models import Credential
from registration.models import Visitor

from .holds import hold_place, hold_place_many, hold_release
from .models import SecurityHold

PLACE = "credentials.place_hold"


def has_place_hold_permission(modeladmin, request) -> bool:
    """Placing and lifting holds (``permissions=["place_hold"]`` on an action)."""
    return request.user.has_perm(PLACE)


class HoldReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


def _reason_page(modeladmin, request, queryset, *, action, title, button, intro):
    """The intermediate page of an action that needs a reason; (None, reason) once given."""
    form = HoldReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        return None, form.cleaned_data["reason"]
    page = TemplateResponse(
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
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        },
    )
    return page, ""


class HoldStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", _("Open")), ("lifted", _("Lifted"))]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(released_at__isnull=False)
        return queryset


class HoldAddForm(forms.ModelForm):
    visitor = forms.ModelChoiceField(
        label=_("visitor's reference number"),
        queryset=Visitor.objects.select_related("edition"),
        to_field_name="reference",
        widget=forms.TextInput(attrs={"size": 14, "autocomplete": "off"}),
        help_text=_("人员编号, as in the review file (e.g. V1A2B3C4D)."),
        error_messages={"invalid_choice": _("No visitor has this reference number.")},
    )
    reason = forms.CharField(label=_("reason"), max_length=300, widget=forms.Textarea({"rows": 3}))

    class Meta:
        model = SecurityHold
        fields = ["visitor", "reason"]

    def clean_visitor(self):
        visitor = self.cleaned_data["visitor"]
        if SecurityHold.objects.filter(visitor=visitor, released_at__isnull=True).exists():
            raise ValidationError(
                _("%(name)s is already on security hold: lift that hold first."),
                params={"name": visitor.name},
            )
        return visitor


@admin.register(SecurityHold)
class SecurityHoldAdmin(admin.ModelAdmin):
    list_display = [
        "visitor_name",
        "id_number",
        "credential_numbers",
        "edition",
        "reason",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "is_open",
    ]
    list_filter = [HoldStateFilter, "edition"]
    search_fields = ["visitor__name", "visitor__reference", "reason"]
    list_select_related = ["visitor", "edition", "placed_by", "released_by"]
    ordering = ["-placed_at", "-pk"]
    actions = ["lift"]
    fields = [
        "visitor",
        "edition",
        "reason",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_reason",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "visitor__credentials",
                    queryset=Credential.objects.filter(status=Credential.Status.ACTIVE).only(
                        "pk", "visitor_id", "number"
                    ),
                    to_attr="active_credentials",
                )
            )
        )

    # Placing (the add form) and lifting (the action) need ``place_hold``; nothing is edited.
    def has_add_permission(self, request):
        return request.user.has_perm(PLACE)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    has_lift_permission = has_place_hold_permission

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return HoldAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["visitor", "reason"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # The one way in: the service (lock, constraint, audit).
        hold = hold_place(
            visitor=form.cleaned_data["visitor"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
        obj.__dict__.update({k: v for k, v in hold.__dict__.items() if k != "_state"})
        obj._state.adding = False

    @admin.display(description=_("full name"), ordering="visitor__name")
    def visitor_name(self, hold):
        return hold.visitor.name

    @admin.display(description=_("ID number"))
    def id_number(self, hold):
        return hold.visitor.id_number_masked

    @admin.display(description=_("credential number"))
    def credential_numbers(self, hold):
        return ", ".join(c.number for c in hold.visitor.active_credentials) or "—"

    @admin.display(description=_("open"), boolean=True)
    def is_open(self, hold):
        return hold.is_open

    @admin.action(description=_("Lift the selected holds"), permissions=["lift"])
    def lift(self, request, queryset):
        page, reason = _reason_page(
            self,
            request,
            queryset,
            action="lift",
            title=_("Lift security holds"),
            button=_("Lift"),
            intro=_(
                "The visitors pass the gate again, and their credentials are made on the next "
                "production run."
            ),
        )
        if page is not None:
            return page
        lifted, refused = 0, []
        for hold in queryset.select_related("visitor"):
            try:
                hold_release(hold=hold, reason=reason, actor=request.user)
                lifted += 1
            except ValidationError as error:
                refused.extend(error.messages)
        if lifted:
            self.message_user(
                request,
                ngettext("%(count)d hold lifted.", "%(count)d holds lifted.", lifted)
                % {"count": lifted},
                messages.SUCCESS,
            )
        if refused:
            self.message_user(request, " ".join(refused), messages.WARNING)
        return None


@admin.action(description=_("Put the holders on security hold"), permissions=["place_hold"])
def hold_holders(modeladmin, request, queryset):
    """On the credential list: put the visitors of the selected credentials on hold."""
    page, reason = _reason_page(
        modeladmin,
        request,
        queryset,
        action="hold_holders",
        title=_("Put holders on security hold"),
        button=_("Put on hold"),
        intro=_(
            "The holders are stopped at the gate (“请至安检服务台”) and no new credential is made "
            "for them until the hold is lifted. Their credentials are not revoked."
        ),
    )
    if page is not None:
        return page
    visitors = Visitor.objects.filter(pk__in=queryset.values("visitor_id").distinct()).order_by(
        "pk"
    )
    try:
        placed, refused = hold_place_many(visitors=visitors, reason=reason, actor=request.user)
    except ValidationError as error:
        modeladmin.message_user(request, " ".join(error.messages), messages.ERROR)
        return None
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d visitor put on security hold.",
            "%(count)d visitors put on security hold.",
            len(placed),
        )
        % {"count": len(placed)},
        messages.SUCCESS,
    )
    if refused:
        modeladmin.message_user(
            request,
            _("Already on hold: %(names)s") % {"names": ", ".join(refused)},
            messages.WARNING,
        )
    return None
