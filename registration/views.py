from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciie_portal import page_cache
from ciie_portal.privacy import policy_in_force
from ciie_portal.private_files import private_file_response
from ciie_portal.windows import registration_window

from . import ocr, reference
from .access import current_unit, edition_or_404
from .auth import normalize_login_name, password_reset_account
from .consent import request_origin
from .forms import (
    AccountForm,
    EntryForm,
    LoginForm,
    PasswordResetForm,
    UnitInfoForm,
    clean_document_image,
    mobile_is_valid,
)
from .limits import Limited, client_ip, ocr_call
from .models import UnitDraft
from .services import account_register, password_reset, unit_draft_save, unit_info_save
from .verification import CodeRefused, code_send, code_send_for_account, deliver_after

ENTRY_SESSION_KEY = "registration_entry"


def reset_code_sent_message() -> str:
    """The one answer to a password-reset code request, whether the name is an account or not."""
    return _(
        "If an account with this login name has a mobile number on file, a verification code "
        "was sent to that number."
    )


# --- Entry and new account ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def entry(request):
    edition = edition_or_404(request)
    form = EntryForm(request.POST or None, initial=request.session.get(ENTRY_SESSION_KEY))
    if request.method == "POST" and form.is_valid():
        policy = policy_in_force(edition)
        request.session[ENTRY_SESSION_KEY] = {
            **{key: form.cleaned_data[key] for key in ("region", "category", "kind")},
            # The version accepted with the box, recorded when the account is opened.
            "privacy_policy": policy.pk if policy else None,
        }
        return redirect("registration:signup")
    return render(
        request,
        "registration/entry.html",
        {"form": form, "window": registration_window(edition)},
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    edition = edition_or_404(request)
    choices = request.session.get(ENTRY_SESSION_KEY)
    if not choices:
        return redirect("registration:entry")
    sending_code = "send_code" in request.POST
    form = AccountForm(
        request.POST or None,
        edition=edition,
        region=choices["region"],
        category=choices["category"],
        sending_code=sending_code,
    )
    if request.method == "POST" and sending_code:
        # Without JavaScript the "send code" button submits the whole form: send the code
        # and show the form again with everything kept.
        mobile = "".join(request.POST.get("mobile", "").split())
        if mobile_is_valid(mobile, region=choices["region"]):
            try:
                code_send(purpose="signup", target=mobile, ip_address=client_ip(request))
                messages.success(request, _("A verification code was sent to %s.") % mobile)
            except CodeRefused as refusal:
                form.add_error("sms_code", str(refusal))
        else:
            form.add_error("mobile", _("Enter a valid mobile number."))
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, unit = _register(edition, choices, data, origin=request_origin(request))
        except ValidationError as error:
            # Registration closed while the form was open: say so next to it, keep the input.
            form.add_error(None, error)
        else:
            request.session.pop(ENTRY_SESSION_KEY, None)
            login(request, user, backend="registration.auth.ModelBackend")
            messages.success(
                request,
                _("Your account is ready. Your login name is %(name)s.") % {"name": user.username},
            )
            return redirect("registration:unit_info")
    return render(
        request,
        "registration/signup.html",
        {
            "form": form,
            "choices": choices,
            "ocr_available": ocr.ocr_available(),
            "domestic": choices["region"] == "mainland",
            "window": registration_window(edition),
        },
    )


def _register(edition, choices: dict, data: dict, *, origin: dict):
    return account_register(
        edition=edition,
        region=choices["region"],
        category=choices["category"],
        kind=choices["kind"],
        delegation=data["delegation"],
        name=data["name"],
        uscc=data["uscc"],
        recommendation_code=data["recommendation_code"],
        invitation_code=data["invitation_code"],
        mobile=data["mobile"],
        password=data["password1"],
        privacy_policy_id=choices.get("privacy_policy"),
        **origin,
    )


@require_POST
def code_request(request):
    """Send an SMS code (fetch from the signup and password pages)."""
    purpose = request.POST.get("purpose", "")
    if purpose == "signup":
        if not request.session.get(ENTRY_SESSION_KEY):
            return JsonResponse({"error": _("Start the registration first.")}, status=400)
        region = request.session[ENTRY_SESSION_KEY]["region"]
        mobile = "".join(request.POST.get("mobile", "").split())
        if not mobile_is_valid(mobile, region=region):
            return JsonResponse({"error": _("Enter a valid mobile number.")}, status=400)
    elif purpose == "password_reset":
        return _reset_code_json(request)
    elif purpose == "returning":
        # The returning-visitor page sends to the earlier account's mobile or email.
        from .views_returning import returning_code_json

        return returning_code_json(request)
    else:
        return JsonResponse({"error": "unknown purpose"}, status=400)
    try:
        code_send(purpose=purpose, target=mobile, ip_address=client_ip(request))
    except CodeRefused as refusal:
        return JsonResponse(
            {"error": str(refusal), "wait_seconds": refusal.wait_seconds}, status=429
        )
    return JsonResponse({"sent_to": mask_mobile(mobile), "wait_seconds": 60})


def _reset_code_json(request):
    """Same answer, status and work for every login name: see ``code_send_for_account``."""
    name = normalize_login_name(request.POST.get("username", ""))
    if not name or len(name) > PasswordResetForm.base_fields["username"].max_length:
        # What the form refuses too; no account has such a name.
        return JsonResponse({"error": _("Enter your login name first.")}, status=400)
    user = password_reset_account(name)
    try:
        delivery = code_send_for_account(
            purpose="password_reset",
            account_name=name,
            target=user.mobile if user else None,
            ip_address=client_ip(request),
        )
    except CodeRefused as refusal:
        return JsonResponse(
            {"error": str(refusal), "wait_seconds": refusal.wait_seconds}, status=429
        )
    message = reset_code_sent_message()
    # "sent_to" is what the page's script shows after its tick.
    response = JsonResponse({"message": message, "sent_to": message, "wait_seconds": 60})
    return deliver_after(response, delivery)


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) > 7 else mobile


@require_POST
def licence_ocr(request):
    """Read unit name and USCC from an uploaded business licence (signup or unit form).

    Limited per client address and per signed-in account (``limits.ocr_call``), not per
    session: a new session does not start the count again."""
    if not (request.user.is_authenticated or request.session.get(ENTRY_SESSION_KEY)):
        return JsonResponse({"error": _("Start the registration first.")}, status=403)
    try:
        ocr_call(request)
    except Limited as refusal:
        return JsonResponse(
            {"error": str(refusal), "wait_seconds": refusal.wait_seconds}, status=429
        )
    upload = request.FILES.get("licence")
    if upload is None:
        return JsonResponse({"error": _("Choose an image first.")}, status=400)
    try:
        image = clean_document_image(upload)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    if not ocr.ocr_available():
        return JsonResponse({"available": False, "name": "", "uscc": ""})
    reading = ocr.read_business_licence(image)
    return JsonResponse(
        {"available": reading.available, "name": reading.name, "uscc": reading.uscc}
    )


# --- Signing in -----------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """The sign-in page. Shown empty to an anonymous visitor it is the same for everyone in a
    language but for the CSRF token, ``next`` and the path: it is kept whole in the shared
    cache (``page_cache``, read anew when the edition changes) and each visitor gets a copy
    with their own. The form with errors after a POST is rendered each time."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    #: While the page is rendered to be kept: the text standing in for ``next``.
    _next_mark = None

    def get(self, request, *args, **kwargs):
        def render(marks):
            self._next_mark = marks["next"] if marks else None
            return super(LoginView, self).get(request, *args, **kwargs)

        return page_cache.serve(
            request,
            "login",
            topics=("edition",),
            render=render,
            values={"next": lambda: escape(self.get_redirect_url())},
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self._next_mark is not None:
            context[self.redirect_field_name] = self._next_mark
        return context

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.address_limited is not None:
            response.status_code = 429
        return response


@require_http_methods(["GET", "POST"])
def password_reset_view(request):
    """Forgotten password: the same answers for every login name (see ``PasswordResetForm``)."""
    sending_code = "send_code" in request.POST
    form = PasswordResetForm(request.POST or None, sending_code=sending_code)
    if request.method == "POST" and form.is_valid():
        if sending_code:
            try:
                delivery = code_send_for_account(
                    purpose="password_reset",
                    account_name=form.cleaned_data["username"],
                    target=form.user.mobile if form.user else None,
                    ip_address=client_ip(request),
                )
            except CodeRefused as refusal:
                form.add_error("sms_code", str(refusal))
            else:
                messages.success(request, reset_code_sent_message())
                response = render(request, "registration/password_reset.html", {"form": form})
                return deliver_after(response, delivery)
        else:
            password_reset(user=form.user, password=form.cleaned_data["password1"])
            messages.success(request, _("Your password was changed. Sign in with it now."))
            return redirect("registration:login")
    return render(request, "registration/password_reset.html", {"form": form})


# --- Account home and unit information ------------------------------------------------------


def _pending_key(unit) -> str:
    return f"pending_licence:{unit.pk}"


def _draft_initial(draft_data: dict, form_class) -> dict:
    multiple = {"import_methods", "interest_areas", "interest_zones"}
    return {
        key: (values if key in multiple else (values[0] if values else ""))
        for key, values in draft_data.items()
        if key in form_class.base_fields
    }


@login_required
@require_http_methods(["GET", "POST"])
def unit_info(request):
    unit = current_unit(request)
    pending_path = request.session.get(_pending_key(unit))
    if not unit.is_editable:
        return render(request, "registration/unit_info_readonly.html", {"unit": unit})
    restored_at = None
    if request.method == "POST":
        form = UnitInfoForm(
            request.POST, request.FILES, instance=unit, pending_licence=pending_path
        )
        if form.is_valid():
            licence = form.cleaned_data.get("licence")
            if not licence and pending_path and default_storage.exists(pending_path):
                with default_storage.open(pending_path) as stored:
                    licence = ContentFile(stored.read(), name=pending_path.rsplit("/", 1)[-1])
            values = {k: v for k, v in form.cleaned_data.items() if k != "licence"}
            unit_info_save(
                unit=unit,
                actor=request.user,
                values=values,
                licence=licence if licence and hasattr(licence, "read") else None,
            )
            if pending_path:
                default_storage.delete(pending_path)
                request.session.pop(_pending_key(unit), None)
            messages.success(request, _("The unit information was saved."))
            return redirect("registration:home")
        # Keep a valid upload so that fixing another field does not mean choosing it again.
        licence = form.cleaned_data.get("licence") if "licence" not in form.errors else None
        if licence and hasattr(licence, "read"):
            licence.seek(0)
            path = default_storage.save(f"unit-documents/pending/{unit.pk}-{licence.name}", licence)
            if pending_path:
                default_storage.delete(pending_path)
            request.session[_pending_key(unit)] = pending_path = path
            form.pending_licence = path
    else:
        draft = UnitDraft.objects.filter(unit=unit).first()
        if draft and (unit.info_saved_at is None or draft.saved_at > unit.info_saved_at):
            form = UnitInfoForm(
                instance=unit,
                initial=_draft_initial(draft.data, UnitInfoForm),
                pending_licence=pending_path,
            )
            restored_at = draft.saved_at
        else:
            form = UnitInfoForm(instance=unit, pending_licence=pending_path)
    return render(
        request,
        "registration/unit_info.html",
        {
            "unit": unit,
            "form": form,
            "restored_at": restored_at,
            "pending_licence": pending_path,
            "industries": reference.industry_choices(),
            "ocr_available": ocr.ocr_available(),
        },
    )


@login_required
@require_POST
def unit_autosave(request):
    unit = current_unit(request)
    data = {
        key: request.POST.getlist(key)
        for key in request.POST
        if key in UnitInfoForm.base_fields and key != "licence"
    }
    try:
        draft = unit_draft_save(unit=unit, data=data)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=409)
    saved = timezone.localtime(draft.saved_at)
    return JsonResponse({"saved_at": saved.strftime("%H:%M:%S")})


@login_required
@require_GET
def unit_licence(request):
    """The unit's own qualification document (never under a public URL)."""
    return private_file_response(current_unit(request).licence)
