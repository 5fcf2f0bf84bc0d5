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
from .limits import Limited, client_ip
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
    one_click_claim,
    one_click_renew,
    one_click_unit,
    one_click_void,
    unit_bring_forward,
)
from .services import password_reset
from .verification import CodeRefused, code_send_for_account, deliver_after

BACKEND = "registration.auth.ModelBackend"


def _method_of(request) -> str:
    method = request.GET.get("method") or request.POST.get("method") or METHOD_PASSWORD
    return method if method in METHODS else METHOD_PASSWORD


def code_sent_message(method: str) -> str:
    """The one answer to a code request, whether the name is an earlier account or not."""
    if method == METHOD_SMS:
        return _(
            "If this is the account of an earlier expo with a mobile number on file, a "
            "verification code was sent to that number."
        )
    return _(
        "If this is the account of an earlier expo with an email address on file, a "
        "verification code was sent to that address."
    )


def _welcome_back(request, *, user, previous_unit, edition, new_password: str | None, link=None):
    """Verified: set the new password, bring the unit forward (once), sign in, go on.

    With ``link`` (one-click registration) the link is used up first, in the same transaction:
    OneClickRefused if another request used it a moment ago. Otherwise the unit's one-click
    link, if any, is no longer needed and stops working."""
    with transaction.atomic():
        if link is not None:
            one_click_claim(link)
        else:
            one_click_void(previous_unit)
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
    delivery = None
    form = ReturningForm(
        request.POST or None,
        method=method,
        edition=edition,
        request=request,
        sending_code=sending_code,
    )
    if request.method == "POST":
        valid = form.is_valid()
        if sending_code and valid and method != METHOD_PASSWORD:
            # Without JavaScript the "send code" button submits the page.
            try:
                delivery = code_send_for_account(
                    purpose=PURPOSE,
                    account_name=form.login_name,
                    target=form.target or None,
                    channel=method,
                    ip_address=client_ip(request),
                )
            except CodeRefused as refusal:
                form.add_error("code", str(refusal))
            else:
                messages.success(request, code_sent_message(method))
        elif valid and not sending_code:
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
    response = render(
        request,
        "registration/returning.html",
        {
            "form": form,
            "method": method,
            "tabs": tabs,
            "failed": failed,
            "all_failed": failed >= set(METHODS),
            # Where the code goes is never shown: it would tell that the name is an account.
            "masked_target": "",
            "window": registration_window(edition),
        },
        status=429 if form.address_limited else 200,
    )
    return deliver_after(response, delivery) if delivery else response


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
        # Only the name's own errors (empty, too long): the same for every account.
        errors = [message for messages_ in form.errors.values() for message in messages_]
        return JsonResponse({"error": " ".join(errors)}, status=400)
    try:
        delivery = code_send_for_account(
            purpose=PURPOSE,
            account_name=form.login_name,
            target=form.target or None,
            channel=channel,
            ip_address=client_ip(request),
        )
    except CodeRefused as refusal:
        return JsonResponse(
            {"error": str(refusal), "wait_seconds": refusal.wait_seconds}, status=429
        )
    message = code_sent_message(channel)
    # "sent_to" is what the page's script shows after its tick.
    response = JsonResponse({"message": message, "sent_to": message, "wait_seconds": 60})
    return deliver_after(response, delivery)


def _link_refused(request, refusal: OneClickRefused, *, renewed_to: str = "", limited=None):
    status = {"used": 410, "expired": 410}.get(refusal.reason, 400)
    return render(
        request,
        "registration/returning_link.html",
        {
            "refusal": str(refusal),
            "reason": refusal.reason,
            "renewed_to": renewed_to,
            "limited": str(limited) if limited else "",
        },
        status=429 if limited else status,
    )


@require_http_methods(["GET", "POST"])
def returning_link(request, token: str):
    """一键注册: the personal link of an earlier unit, good once; a new password comes first.

    A used (or replaced) link says to sign in; an expired one offers to email a new link to the
    address on file."""
    edition = edition_or_404(request)
    try:
        link = one_click_unit(token, edition=edition)
    except OneClickRefused as refusal:
        if request.method == "POST" and "renew" in request.POST and refusal.reason == "expired":
            try:
                sent_to = one_click_renew(
                    refusal=refusal, edition=edition, base_url=request.build_absolute_uri("/")
                )
            except OneClickRefused as other:
                return _link_refused(request, other)
            except Limited as limited:
                return _link_refused(request, refusal, limited=limited)
            return _link_refused(request, refusal, renewed_to=sent_to)
        return _link_refused(request, refusal)
    previous_unit = link.unit
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
                link=link,
            )
        except OneClickRefused as refusal:
            # Used a moment ago by another request: nothing here was changed.
            return _link_refused(request, refusal)
        except ValidationError as error:
            form.add_error(None, error)
    return render(
        request,
        "registration/returning_link.html",
        {"form": form, "previous_unit": previous_unit, "login_name": user.username},
    )
