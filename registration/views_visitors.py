from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciie_portal import crypto
from ciie_portal.private_files import private_file_response
from ciie_portal.windows import registration_window

from .access import current_unit
from .forms_visitors import VisitorFilterForm, VisitorForm, empty_form_key, filter_form_key
from .list_filters import UNIT_LIST, visitor_list_filters
from .models import ConsentBy, PersonType, Unit, Visitor
from .selectors import unit_progress, visitor_counts, visitors_of_unit, visitors_of_unit_list
from .services import (
    ENTRY_DAYS_CHANGEABLE,
    VISITOR_DELETABLE,
    VISITOR_NOT_DELETABLE,
    reuse_possible,
    unit_submit,
    visitor_change_entry_days,
    visitor_delete,
    visitor_save,
    visitors_delete,
    visitors_reuse_choose,
    visitors_submit,
)


def _visitor_of(request, pk, *, pending_too=False) -> Visitor:
    """A visitor of the signed-in contact's unit; anything else is 404.

    Colleagues waiting for approval are only shown (their photo), never edited here.
    """
    unit = current_unit(request)
    visitors = Visitor.objects.select_related("unit")
    if not pending_too:
        visitors = visitors.filter(join_pending=False)
    return get_object_or_404(visitors, pk=pk, unit=unit)


def _individual_taken(unit: Unit) -> bool:
    """个人注册 with its one visitor already registered: nobody else can be added."""
    return (
        unit.kind == Unit.Kind.INDIVIDUAL
        and Visitor.objects.filter(unit=unit).exclude(status=Visitor.Status.CANCELLED).exists()
    )


#: Visitors per page of the unit's list. A large unit registers a few hundred; one page shows
#: most units whole, and the page costs the same queries however many there are.
PAGE_SIZE = 200

REUSE_CHOICES = [
    ("", _lazy("All")),
    ("yes", _lazy("Yes")),  # 证件复用: reusing last expo's credential
    ("no", _lazy("No")),
]


class VisitorListForm(VisitorFilterForm):
    """The list's filters: those of ``VisitorFilterForm``, 证件复用, and the filters the apps
    built on this one register (按支付状态, 按订单状态: ``registration.list_filters``)."""

    reuse = forms.ChoiceField(
        label=_lazy("Credential reuse"), choices=REUSE_CHOICES, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.registered = visitor_list_filters(UNIT_LIST)
        for entry in self.registered:
            self.fields[entry.name] = forms.ChoiceField(
                label=entry.label,
                choices=[("", _lazy("All")), *entry.choices],
                required=False,
            )

    def apply(self, visitors):
        """``visitors`` narrowed to the valid filters; an invalid one is ignored (and shown)."""
        if not self.is_bound:
            return visitors
        self.is_valid()  # ``cleaned_data`` then holds the valid fields only
        data = self.cleaned_data
        if data.get("q"):
            term = data["q"].strip()
            visitors = visitors.filter(
                Q(name__icontains=term)
                | Q(surname_en__icontains=term)
                | Q(id_number_index=crypto.blind_index(term))
            )
        for name in ("person_type", "entry_period", "status"):
            if data.get(name):
                visitors = visitors.filter(**{name: data[name]})
        if data.get("reuse"):
            visitors = visitors.filter(reuse_eligible=data["reuse"] == "yes")
        for entry in self.registered:
            if data.get(entry.name):
                visitors = entry.apply(visitors, data[entry.name])
        return visitors

    @property
    def active(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


@login_required
@require_GET
def visitor_list(request):
    unit = current_unit(request)
    every = visitors_of_unit(unit)
    counts = visitor_counts(unit)
    if request.GET:
        filters, filters_kept = VisitorListForm(request.GET, edition=unit.edition), ""
        shown = filters.apply(every)
    else:
        # As first shown: the filters' HTML is kept rendered (``{% kept %}``) under what it is
        # rendered from (``filter_form_key``); the form is built only to render it once.
        filters = SimpleLazyObject(lambda: VisitorListForm(edition=unit.edition))
        filters_kept = filter_form_key(unit.edition)
        shown = every
    paginator = Paginator(shown, PAGE_SIZE)
    if shown is every:  # no filter: the count is the one just made
        paginator.count = counts["total"]
    page = paginator.get_page(request.GET.get("page"))
    if shown is every:  # the unit's own list: its SQL is written once (``visitors_of_unit_list``)
        visitors = visitors_of_unit_list(
            unit, offset=(page.number - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
    else:
        visitors = list(page.object_list)
    for visitor in visitors:
        # 证件复用 or 重新申办: saved earlier visitors who could reuse choose here.
        visitor.reuse_offer = visitor.status == Visitor.Status.SAVED and reuse_possible(visitor)
    return render(
        request,
        "registration/visitor_list.html",
        {
            "unit": unit,
            "visitors": visitors,
            "page": page,
            "page_links": page.paginator.get_elided_page_range(page.number),
            "filters": filters,
            "filters_kept": filters_kept,
            "unsubmitted": counts["saved"],
            "person_types": PersonType.choices,
            "window": registration_window(unit.edition),
            "individual_taken": _individual_taken(unit),
            "reuse_offers": any(v.reuse_offer for v in visitors),
        },
    )


def _selected_ids(request) -> list[int]:
    return [int(pk) for pk in request.POST.getlist("visitor") if pk.isdigit()]


@login_required
@require_POST
def visitors_delete_view(request):
    """批量删除: the selected visitors, after a confirmation page that names those that will
    be deleted and those that cannot be (with the reason); then ``visitors_delete``."""
    unit = current_unit(request)
    ids = _selected_ids(request)
    if not ids:
        messages.error(request, _("Select the visitors to delete."))
        return redirect("registration:visitors")
    if request.POST.get("confirm") != "yes":
        selected = list(
            Visitor.objects.filter(unit=unit, join_pending=False, pk__in=ids).order_by(
                "person_type", "created_at", "pk"
            )
        )
        return render(
            request,
            "registration/visitors_delete_confirm.html",
            {
                "unit": unit,
                "deletable": [v for v in selected if v.status in VISITOR_DELETABLE],
                "refused": [v for v in selected if v.status not in VISITOR_DELETABLE],
                "reason": VISITOR_NOT_DELETABLE,
            },
        )
    result = visitors_delete(unit=unit, ids=ids, actor=request.user)
    if result.deleted:
        messages.success(
            request,
            _("%(count)d visitor(s) deleted: %(names)s")
            % {"count": len(result.deleted), "names": "、".join(result.deleted)},
        )
    for name, reason in result.refused:
        messages.error(
            request, _("%(name)s was not deleted: %(reason)s") % {"name": name, "reason": reason}
        )
    if not result.deleted and not result.refused:
        messages.error(request, _("None of the selected visitors could be found."))
    return redirect("registration:visitors")


@login_required
@require_POST
def visitors_reuse_view(request):
    """证件复用 or 重新申办 for the earlier visitors: ``reuse-<id>`` is "reuse" or "new"."""
    unit = current_unit(request)
    choices = {}
    for key, value in request.POST.items():
        prefix, _sep, pk = key.partition("-")
        if prefix == "reuse" and pk.isdigit() and value in ("reuse", "new"):
            choices[int(pk)] = value == "reuse"
    if not choices:
        messages.error(request, _("Choose reuse or a new credential first."))
        return redirect("registration:visitors")
    try:
        changed = visitors_reuse_choose(unit=unit, choices=choices, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(count)d credential choice(s) changed.") % {"count": changed})
    if request.POST.get("back") == "edit" and len(choices) == 1:
        return redirect("registration:visitor_edit", pk=next(iter(choices)))
    return redirect("registration:visitors")


#: The form's fields that are not the visitor's values.
FORM_ONLY = ("photo", "id_number", "pledge", "sensitive_consent")


def _save_visitor(request, unit, form, *, visitor=None):
    submit = "submit" in request.POST
    data = form.cleaned_data
    photo = data.get("photo")
    visitor = visitor_save(
        unit=unit,
        actor=request.user,
        values={
            **{k: v for k, v in data.items() if k not in FORM_ONLY},
            "person_type": form.person_type,
        },
        id_type=data["id_type"],
        id_number=data["id_number"],
        visitor=visitor,
        photo=photo if photo and hasattr(photo, "read") else None,
        submit=submit,
        sensitive_consent=ConsentBy.CONTACT if data.get("sensitive_consent") else "",
    )
    if submit:
        messages.success(request, _("%(name)s was submitted.") % {"name": visitor.name})
    else:
        messages.success(request, _("%(name)s was saved.") % {"name": visitor.name})
    return redirect("registration:visitors")


def _form_page(request, unit, form, visitor=None, *, person_type=None, form_kept=""):
    return render(
        request,
        "registration/visitor_form.html",
        {
            "unit": unit,
            "form": form,
            "form_kept": form_kept,
            "visitor": visitor,
            "person_type": person_type or form.person_type,
            "window": registration_window(unit.edition),
            "reuse_offer": bool(
                visitor and visitor.status == Visitor.Status.SAVED and reuse_possible(visitor)
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def visitor_add(request, person_type):
    unit = current_unit(request)
    if person_type not in PersonType.values:
        raise Http404
    if request.method == "GET" and _individual_taken(unit):
        messages.error(
            request,
            _(
                "An individual registration registers only the registrant, who is already "
                "in the list."
            ),
        )
        return redirect("registration:visitors")

    def new_visitor_form():
        return VisitorForm(
            request.POST or None,
            request.FILES or None,
            unit=unit,
            person_type=person_type,
            submitting="submit" in request.POST,
            instance=Visitor(unit=unit, edition=unit.edition, person_type=person_type),
        )

    if request.method == "GET":
        # As first shown: the form's HTML is kept rendered (``{% kept %}``) under what it is
        # rendered from (``empty_form_key``); the form is built only to render it once.
        return _form_page(
            request,
            unit,
            SimpleLazyObject(new_visitor_form),
            person_type=person_type,
            form_kept=empty_form_key(unit, person_type),
        )
    form = new_visitor_form()
    if form.is_valid():
        try:
            return _save_visitor(request, unit, form)
        except ValidationError as error:
            attach_errors(form, error)
    return _form_page(request, unit, form)


@login_required
@require_http_methods(["GET", "POST"])
def visitor_edit(request, pk):
    visitor = _visitor_of(request, pk)
    unit = visitor.unit
    if visitor.status != Visitor.Status.SAVED:
        return _visitor_detail(request, visitor)
    form = VisitorForm(
        request.POST or None,
        request.FILES or None,
        unit=unit,
        person_type=visitor.person_type,
        submitting="submit" in request.POST,
        instance=visitor,
    )
    if request.method == "POST" and form.is_valid():
        try:
            return _save_visitor(request, unit, form, visitor=visitor)
        except ValidationError as error:
            attach_errors(form, error)
    return _form_page(request, unit, form, visitor)


def _visitor_detail(request, visitor):
    """A submitted visitor, read-only — but its entry days may change until it is ordered."""
    periods = visitor.unit.edition.entry_periods.all()
    if request.method == "POST" and "entry_period" in request.POST:
        chosen = periods.filter(pk=request.POST.get("entry_period")).first()
        try:
            if chosen is None:
                raise ValidationError(_("Choose entry days of this expo."))
            visitor_change_entry_days(visitor=visitor, entry_period=chosen, actor=request.user)
            messages.success(request, _("The entry days were changed."))
            return redirect("registration:visitor_edit", pk=visitor.pk)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    changeable = (
        visitor.status in ENTRY_DAYS_CHANGEABLE
        and not visitor.order_lines.filter(open=True).exists()
    )
    return render(
        request,
        "registration/visitor_detail.html",
        {"visitor": visitor, "periods": periods, "entry_days_changeable": changeable},
    )


def attach_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@login_required
@require_POST
def visitor_delete_view(request, pk):
    visitor = _visitor_of(request, pk)
    try:
        visitor_delete(visitor=visitor, actor=request.user)
        messages.success(request, _("%(name)s was deleted.") % {"name": visitor.name})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("registration:visitors")


@login_required
@require_POST
def visitors_submit_view(request):
    unit = current_unit(request)
    ids = [int(pk) for pk in request.POST.getlist("visitor") if pk.isdigit()]
    if not request.POST.get("pledge"):
        messages.error(request, _("Tick the pledge to submit the selected visitors."))
    elif not ids:
        messages.error(request, _("Select the visitors to submit."))
    else:
        try:
            moved = visitors_submit(
                unit=unit,
                visitor_ids=ids,
                actor=request.user,
                sensitive_consent=bool(request.POST.get("sensitive_consent")),
            )
            messages.success(request, _("%(count)d visitor(s) submitted.") % {"count": len(moved)})
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect("registration:visitors")


@login_required
@require_GET
def visitor_photo(request, pk):
    visitor = _visitor_of(request, pk, pending_too=True)
    return private_file_response(visitor.photo, content_type="image/jpeg")


@login_required
@require_http_methods(["GET", "POST"])
def unit_submit_view(request):
    """预登记信息预览 / 确认提交."""
    unit = current_unit(request)
    if request.method == "POST":
        ids = [int(pk) for pk in request.POST.getlist("visitor") if pk.isdigit()]
        try:
            unit_submit(
                unit=unit,
                actor=request.user,
                visitor_ids=ids,
                sensitive_consent=bool(request.POST.get("sensitive_consent")),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("The registration was submitted."))
            return redirect("registration:home")
    visitors = visitors_of_unit_list(unit)
    return render(
        request,
        "registration/unit_submit.html",
        {
            "unit": unit,
            "visitors": visitors,
            "saved": [v for v in visitors if v.status == Visitor.Status.SAVED],
            "unsubmitted": sum(1 for v in visitors if v.status == Visitor.Status.SAVED),
            "window": registration_window(unit.edition),
        },
    )


@login_required
@require_GET
def dashboard(request):
    try:
        unit = current_unit(request)
    except Http404:
        # Signed in without a unit in this edition (e.g. before bringing one forward).
        return render(request, "registration/no_unit.html", status=200)
    return render(request, "registration/dashboard.html", unit_progress(unit))
