"""复制为新一届: the Edition admin's "Clone as a new edition" — a form (number, names, offset),
a preview of everything that would be created, then the confirmation. Organisers only
(``ciie_portal.add_edition``); the work is ``ciie_portal.cloning``."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .cloning import DEFAULT_OFFSET_DAYS, MAX_OFFSET_DAYS, edition_clone, edition_clone_preview
from .models import Edition

CLONE_PERMISSION = "ciie_portal.add_edition"


class EditionCloneForm(forms.Form):
    number = forms.IntegerField(label=_("new edition's number"), min_value=1, max_value=32767)
    name = forms.CharField(label=_("name"), max_length=100)
    name_en = forms.CharField(label=_("name in English"), max_length=100, required=False)
    offset = forms.IntegerField(
        label=_("move every date by (days)"),
        initial=DEFAULT_OFFSET_DAYS,
        min_value=-MAX_OFFSET_DAYS,
        max_value=MAX_OFFSET_DAYS,
        help_text=_(
            "Every date and time of the edition, its entry periods and side events moves by "
            "this many days. 364 days (52 weeks) keeps the same weekday a year later, so the "
            "expo opens on the same day of the week; 365 keeps the same calendar date."
        ),
    )


def _initial(source: Edition) -> dict:
    number = source.number + 1
    # "第8届…" becomes "第9届…"; a name written otherwise is left for the organiser to edit.
    return {
        "number": number,
        "name": source.name.replace(str(source.number), str(number)),
        "name_en": source.name_en.replace(str(source.number), str(number)),
        "offset": DEFAULT_OFFSET_DAYS,
    }


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def edition_clone_view(modeladmin, request, object_id):
    if not request.user.has_perm(CLONE_PERMISSION):
        raise PermissionDenied
    source = get_object_or_404(Edition, pk=object_id)
    preview = None
    if request.method == "POST":
        form = EditionCloneForm(request.POST)
        # "Change the values" on the preview: the form again, as filled in.
        if form.is_valid() and "back" not in request.POST:
            values = {"source": source, "actor": request.user, **form.cleaned_data}
            try:
                if "confirm" in request.POST:
                    result = edition_clone(**values)
                    modeladmin.message_user(
                        request,
                        _(
                            "%(edition)s was created from %(source)s. It is not current yet: "
                            "check it, then make it current from the list of editions."
                        )
                        % {"edition": result.edition, "source": source},
                        messages.SUCCESS,
                    )
                    return redirect(
                        reverse("admin:ciie_portal_edition_change", args=[result.edition.pk])
                    )
                preview = edition_clone_preview(**values)
            except ValidationError as error:
                _add_errors(form, error)
    else:
        form = EditionCloneForm(initial=_initial(source))
    opts = Edition._meta
    return TemplateResponse(
        request,
        "admin/ciie_portal/edition/clone.html",
        {
            **modeladmin.admin_site.each_context(request),
            "opts": opts,
            "original": source,
            "title": _("Clone %(edition)s as a new edition") % {"edition": source},
            "form": form,
            "preview": preview,
        },
    )
