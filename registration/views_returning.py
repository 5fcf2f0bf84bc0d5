"""Pages of returning visitors: 往届账号验证 and the one-click registration link."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from ciie_portal.context_processors import current_edition_for
from ciie_portal.windows import registration_window

from .access import edition_or_404
from .models import Unit, Visitor
from .returning import (
    FAILED_METHODS_SESSION_KEY,
    METHOD_EMAIL,
    METHOD_PASSWORD,
    METHOD_SMS,
    METHODS,
    PURPOSE,
    NewPasswordForm,
    OneClickRefused,
    ReturningForm,
    failed_method_record,
    failed_methods,
    one_click_unit,
    unit_bring_forward,
)
from .services import password_reset
from .verification import CodeRefused, code_send
from .views import client_ip

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _method_of(request) -> str:
    method = request.GET.get("method") or request.POST.get("method") or METHOD_PASSWORD
    return method if method in METHODS else METHOD_PASSWORD


def _welcome_back(request, *, user, previous_unit, edition, new_password: str | None):
    """Verified: set the new password, bring the unit forward (once), sign in, go on."""
    with transaction.atomic():
        if new_password:
            password_reset(user=user, password=new_password)
        current = Unit.objects.filter(account=user, edition=edition).first()
        if current is None:
            current, copied, skipped = unit_bring_forward(
                previous_unit=previous_unit, edition=edition, actor=user
            )
            brought_forward = True
        else:
            brought_forward, skipped = False, 0
    request.session.pop(FAILED_METHODS_SESSION_KEY, None)
    login(request, user, backend=BACKEND)
    if not brought_forward:
        messages.info(request, _("This account is already registered for this expo."))
        return redirect("registration:home")
    messages.success(
        request, _("Your earlier registration was brought forward. Please check and complete it.")
    )
    if Visitor.objects.filter(unit=current, reuse_eligible=True).exists():
        messages.info(
            request,
            _(
                "Visitors who held last expo's credential and passed its review are set to "
                "reuse it (证件复用, reduced fee, only while their card data stays the same). On "
                "the visitor page you can choose a new credential (重新申办, full fee) for any "
                "of them instead."
            ),
        )
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(n)d visitor was not brought forward: the ID number is already registered "
                "for this expo.",
                "%(n)d visitors were not brought forward: their ID numbers are already "
                "registered for this expo.",
                skipped,
            )
            % {"n": skipped},
        )
    return redirect("registration:unit_info")


@require_http_methods(["GET", "POST"])
def returning(request):
    """我是往届进博会观众: verify the earlier account by password, SMS code or email code."""
    edition = edition_or_404(request)
    method = _method_of(request)
    sending_code = request.method == "POST" and "send_code" in request.POST
    form = ReturningForm(
        request.POST or None,
        method=method,
        edition=edition,
        request=request,
        sending_code=sending_code,
    )
    if request.method == "POST":
        valid = form.is_valid()
        if sending_code and valid:
            # Without JavaScript the "send code" button submits the page.
            try:
                code_send(
                    purpose=PURPOSE,
                    target=form.target,
                    channel=method,
                    ip_address=client_ip(request),
                )
                messages.success(
                    request, _("A verification code was sent to %s.") % form.masked_target
                )
            except CodeRefused as refusal:
                form.add_error("code", str(refusal))
        elif valid:
            try:
                return _welcome_back(
                    request,
                    user=form.user,
                    previous_unit=form.previous_unit,
                    edition=edition,
                    new_password=form.cleaned_data.get("password1"),
                )
            except ValidationError as error:
                form.add_error(None, error)
        elif form.verification_failed:
            failed_method_record(request.session, method)
    failed = failed_methods(request.session)
    tabs = [
        (METHOD_PASSWORD, _("Account and password")),
        (METHOD_SMS, _("Mobile SMS code")),
        (METHOD_EMAIL, _("Email code")),
    ]
    return render(
        request,
        "registration/returning.html",
        {
            "form": form,
            "method": method,
            "tabs": tabs,
            "failed": failed,
            "all_failed": failed >= set(METHODS),
            "masked_target": form.masked_target if form.user else "",
            "window": registration_window(edition),
        },
    )


@require_POST
def returning_code_json(request):
    """The JSON answer of ``registration:code_request`` for purpose "returning".

    POST ``username`` (the earlier account) and ``channel`` ("sms" or "email").
    """
    edition = current_edition_for(request)
    if edition is None:
        return JsonResponse({"error": _("Registration is not open.")}, status=400)
    channel = request.POST.get("channel", METHOD_SMS)
    if channel not in (METHOD_SMS, METHOD_EMAIL):
        return JsonResponse({"error": "unknown channel"}, status=400)
    form = ReturningForm(
        request.POST, method=channel, edition=edition, request=request, sending_code=True
    )
    if not form.is_valid():
        errors = [message for messages_ in form.errors.values() for message in messages_]
        return JsonResponse({"error": " ".join(errors)}, status=400)
    try:
        code_send(
            purpose=PURPOSE, target=form.target, channel=channel, ip_address=client_ip(request)
        )
    except CodeRefused as refusal:
        return JsonResponse(
            {"error": str(refusal), "wait_seconds": refusal.wait_seconds}, status=429
        )
    return JsonResponse({"sent_to": form.masked_target, "wait_seconds": 60})


@require_http_methods(["GET", "POST"])
def returning_link(request, token: str):
    """一键注册: the personal link of an earlier unit; a new password comes first."""
    edition = edition_or_404(request)
    try:
        previous_unit = one_click_unit(token, edition=edition)
    except OneClickRefused as refusal:
        return render(
            request, "registration/returning_link.html", {"refusal": str(refusal)}, status=400
        )
    user = previous_unit.account
    form = NewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            return _welcome_back(
                request,
                user=user,
                previous_unit=previous_unit,
                edition=edition,
                new_password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            form.add_error(None, error)
    return render(
        request,
        "registration/returning_link.html",
        {"form": form, "previous_unit": previous_unit, "login_name": user.username},
    )
