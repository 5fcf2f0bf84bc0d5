"""The second step of a staff sign-in: enrolment of an authenticator app on the first sign-in,
then a code at every sign-in; and a staff member's own backup codes.

Mounted inside the admin (``admin:two_factor``, ``admin:two_factor_enrol``,
``admin:two_factor_backup_codes``) by ``site.SecondFactorAdminSite.get_urls``. The first two
are open to a staff user who gave the password but not yet the second factor; the last one
only after it (``admin_view``).
"""

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import is_staff_account, second_factor_passed, services


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "none",
                "spellcheck": "false",
                "class": "two-factor-code",
            }
        ),
    )

    def __init__(self, *args, backup_codes_allowed=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.backup_codes_allowed = backup_codes_allowed
        if not backup_codes_allowed:
            self.fields["code"].widget.attrs["inputmode"] = "numeric"

    def clean_code(self):
        code = self.cleaned_data["code"]
        if not services.code_is_well_formed(code) or (
            not self.backup_codes_allowed and not code.replace(" ", "").isdigit()
        ):
            if self.backup_codes_allowed:
                raise forms.ValidationError(
                    _("Enter the 6-digit code from your app, or one of your backup codes.")
                )
            raise forms.ValidationError(_("Enter the 6-digit code your app shows now."))
        return code


def next_url(request) -> str:
    """Where to go after the second factor: the page asked for, if it is on this site."""
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def second_factor_url(next_path: str | None = None, *, name: str = "admin:two_factor") -> str:
    url = reverse(name)
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_path})}" if next_path else url


def redirect_to_second_factor(request, next_path: str):
    return redirect(second_factor_url(next_path))


def _guard(request):
    """A response for who may not be on the second-factor pages, else None."""
    if not is_staff_account(request.user):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if second_factor_passed(request):
        return redirect(next_url(request))
    return None


def _wrong_code_error(outcome) -> str:
    if outcome.locked_until is not None:
        seconds = outcome.wait_seconds()
        return ngettext(
            "Too many wrong codes. Wait %(seconds)d second, then try again.",
            "Too many wrong codes. Wait %(seconds)d seconds, then try again.",
            seconds,
        ) % {"seconds": seconds}
    return str(_("That code is not right. Check the app's current code and try again."))


def _context(site, request, **context) -> dict:
    return {
        **site.each_context(request),
        REDIRECT_FIELD_NAME: next_url(request),
        "next_field": REDIRECT_FIELD_NAME,
        **context,
    }


def _render(request, template: str, context: dict, status: int = 200):
    # Every view here is never_cache (admin_view is too): the key and the backup codes are
    # never stored by a browser or a proxy.
    return TemplateResponse(request, template, context, status=status)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def verify(request, site):
    """The code at sign-in: from the app (6 digits) or a backup code."""
    refused = _guard(request)
    if refused is not None:
        return refused
    user = request.user
    if not services.has_authenticator(user):
        return redirect(second_factor_url(next_url(request), name="admin:two_factor_enrol"))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = services.second_factor_verify(
            request=request, user=user, code=form.cleaned_data["code"]
        )
        if outcome.accepted:
            return redirect(next_url(request))
        form.add_error("code", _wrong_code_error(outcome))
    return _render(
        request,
        "admin/two_factor/verify.html",
        _context(site, request, title=_("Two-factor sign-in"), form=form),
        status=400 if form.errors else 200,
    )


def _qr_svg(device) -> str:
    # segno writes presentation attributes only (no style="…"): fine under a strict CSP.
    svg = segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return mark_safe(svg)  # noqa: S308 - segno's own markup of a URL we built


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request, site):
    """First sign-in: scan the QR code (or type the key), confirm with a current code; then the
    backup codes, shown this once."""
    refused = _guard(request)
    if refused is not None:
        return refused
    user = request.user
    if services.has_authenticator(user):
        return redirect(second_factor_url(next_url(request)))
    form = CodeForm(request.POST or None, backup_codes_allowed=False)
    if request.method == "POST" and form.is_valid():
        outcome = services.second_factor_enrol(
            request=request, user=user, code=form.cleaned_data["code"]
        )
        if outcome.accepted:
            return _render(
                request,
                "admin/two_factor/backup_codes.html",
                _context(
                    site,
                    request,
                    title=_("Your backup codes"),
                    codes=outcome.codes,
                    enrolled=True,
                ),
            )
        if services.has_authenticator(user):  # enrolled meanwhile in another tab
            return redirect(second_factor_url(next_url(request)))
        form.add_error("code", _wrong_code_error(outcome))
    device = services.pending_authenticator(user)
    return _render(
        request,
        "admin/two_factor/enrol.html",
        _context(
            site,
            request,
            title=_("Set up two-factor sign-in"),
            form=form,
            qr_svg=_qr_svg(device),
            secret=_grouped(b32encode(device.bin_key).decode()),
            account=user.get_username(),
        ),
        status=400 if form.errors else 200,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def backup_codes(request, site):
    """A staff member's own backup codes: how many are left; new ones replace them all."""
    user = request.user
    if request.method == "POST":
        codes = services.backup_codes_regenerate(request=request, user=user)
        return _render(
            request,
            "admin/two_factor/backup_codes.html",
            _context(site, request, title=_("Your backup codes"), codes=codes, enrolled=False),
        )
    return _render(
        request,
        "admin/two_factor/backup_codes_regenerate.html",
        _context(
            site,
            request,
            title=_("Backup codes"),
            left=services.backup_codes_left(user),
            total=services.BACKUP_CODE_COUNT,
        ),
    )
