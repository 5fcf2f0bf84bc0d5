"""The accept page of a new privacy policy version (``registration.consent``)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ciie_portal.views_privacy import policy_text

from .consent import consent_record, policy_to_accept, request_origin


class ConsentForm(forms.Form):
    policy = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(
        label=gettext_lazy("I have read and agree to this version of the privacy policy."),
        error_messages={"required": gettext_lazy("Please read and accept the privacy policy.")},
    )


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("registration:home")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def consent_accept(request):
    next_url = _next_url(request)
    policy = policy_to_accept(request.user)
    if policy is None:
        return redirect(next_url)
    form = ConsentForm(request.POST or None, initial={"policy": policy.pk})
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["policy"] != policy.pk:
            # A newer version was published while the page was open: that one is shown now.
            messages.info(request, _("A newer version of the privacy policy was published."))
            form = ConsentForm(initial={"policy": policy.pk})
        else:
            consent_record(user=request.user, policy=policy, **request_origin(request))
            messages.success(request, _("Thank you. Your acceptance was recorded."))
            return redirect(next_url)
    return render(
        request,
        "registration/consent_accept.html",
        {"policy": policy, "text": policy_text(policy), "form": form, "next": next_url},
    )
