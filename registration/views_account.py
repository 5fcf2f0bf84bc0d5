"""账户管理: the signed-in unit contact's account page. Each section posts to its own URL and,
on a mistake, the whole page comes back with that section's input kept and the message next to
the field. The rules are in ``registration.account``."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ciie_portal.context_processors import current_edition_for

from .account import (
    account_channels,
    account_contact_change,
    account_email_change_confirm,
    account_email_change_request,
    account_mobile_change_confirm,
    account_mobile_change_request,
    account_password_change,
    account_sessions_end,
    mask_email,
    mask_mobile,
)
from .forms_account import ContactForm, EmailChangeForm, MobileChangeForm, PasswordChangeForm
from .limits import client_ip
from .models import Unit

PREFIXES = {"password": "password", "mobile": "mobile", "email": "email", "contact": "contact"}


def unit_contact_only(view):
    """Signed in, and a unit's contact: staff change their password in the admin (with its
    second factor), never here."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_staff:
            return redirect("admin:password_change")
        return view(request, *args, **kwargs)

    return wrapper


def _unit(request) -> Unit | None:
    """This edition's unit of the signed-in account (none: the contact section is left out)."""
    edition = current_edition_for(request)
    if edition is None:
        return None
    return Unit.objects.filter(account=request.user, edition=edition).first()


def _page(request, unit, **bound):
    user = request.user
    mobile, email = account_channels(user=user, unit=unit)
    forms = {
        "password_form": bound.get("password") or PasswordChangeForm(prefix="password"),
        "mobile_form": bound.get("mobile") or MobileChangeForm(prefix="mobile"),
        "email_form": bound.get("email") or EmailChangeForm(prefix="email"),
        "contact_form": (
            bound.get("contact") or (ContactForm(instance=unit, prefix="contact") if unit else None)
        ),
    }
    return render(
        request,
        "registration/account.html",
        {
            "unit": unit,
            "login_name": user.get_username(),
            "mobile": mask_mobile(mobile) if mobile else "",
            "email": mask_email(email) if email else "",
            **forms,
        },
    )


def _done(section: str):
    return redirect(reverse("registration:account") + f"#account-{section}")


@unit_contact_only
@require_GET
def account(request):
    return _page(request, _unit(request))


@unit_contact_only
@require_POST
def account_password(request):
    unit = _unit(request)
    form = PasswordChangeForm(request.POST, prefix="password")
    if form.is_valid():
        data = form.cleaned_data
        try:
            user = account_password_change(
                user=request.user,
                current_password=data["current_password"],
                new_password=data["new_password1"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # This session stays signed in; every other one was signed out by the new password.
            update_session_auth_hash(request, user)
            messages.success(
                request,
                _("Your password was changed. Other devices signed in to this account were "
                  "signed out."),
            )  # fmt: skip
            return _done("password")
    return _page(request, unit, password=form)


def _code_change(request, *, section, form_class, field, send, confirm, sent_message, done):
    unit = _unit(request)
    sending = "send_code" in request.POST
    form = form_class(request.POST, prefix=PREFIXES[section], sending_code=sending)
    if form.is_valid():
        value = form.cleaned_data[field]
        try:
            if sending:
                sent = send(
                    user=request.user, unit=unit, ip_address=client_ip(request), **{field: value}
                )
                value = sent.code.target  # as the service cleaned it (no spaces)
            else:
                confirm(
                    user=request.user, unit=unit, code=form.cleaned_data["code"], **{field: value}
                )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not sending:
                messages.success(request, done)
                return _done(section)
            messages.success(request, sent_message % {"to": value})
            # The number or address stays in the form; the code is typed next.
            form = form_class(initial={field: value}, prefix=PREFIXES[section])
    return _page(request, unit, **{section: form})


@unit_contact_only
@require_POST
def account_mobile(request):
    return _code_change(
        request,
        section="mobile",
        form_class=MobileChangeForm,
        field="mobile",
        send=account_mobile_change_request,
        confirm=account_mobile_change_confirm,
        sent_message=_("A verification code was sent to %(to)s. Enter it to change the number."),
        done=_("Your mobile number was changed."),
    )


@unit_contact_only
@require_POST
def account_email(request):
    return _code_change(
        request,
        section="email",
        form_class=EmailChangeForm,
        field="email",
        send=account_email_change_request,
        confirm=account_email_change_confirm,
        sent_message=_("A verification code was sent to %(to)s. Enter it to change the address."),
        done=_("Your email address was changed."),
    )


@unit_contact_only
@require_POST
def account_contact(request):
    unit = _unit(request)
    if unit is None:
        return redirect("registration:account")
    form = ContactForm(request.POST, instance=unit, prefix="contact")
    if form.is_valid():
        try:
            changed = account_contact_change(user=request.user, unit=unit, values=form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if changed:
                messages.success(request, _("The contact person was changed."))
            else:
                messages.info(request, _("Nothing was changed."))
            return _done("contact")
    return _page(request, unit, contact=form)


@unit_contact_only
@require_POST
def account_sessions(request):
    user = account_sessions_end(user=request.user)
    update_session_auth_hash(request, user)
    messages.success(request, _("Every other device signed in to this account was signed out."))
    return _done("sessions")
