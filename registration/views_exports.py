"""我的定期导出 / My scheduled exports: a staff member's subscriptions to their own lists by
email (registration.exports), and the page an email's unsubscribe link opens.

The list page is a staff page in the admin's look: signed in with the second factor
(``ciie_portal.two_factor.middleware`` holds back staff who gave only the password).

The unsubscribe link works without signing in: its signed token names the subscription. Opening
it (GET) only shows what it would stop; the button POSTs. Mail scanners and link previews open
every link of an email, so a GET that unsubscribed would stop subscriptions nobody meant to.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .exports import (
    export_of,
    export_subscribe,
    export_unsubscribe,
    exports_for,
    subscription_of_token,
    weekday_choices,
)
from .models import ExportSubscription


class SubscribeForm(forms.Form):
    export = forms.CharField(max_length=50)
    frequency = forms.ChoiceField(
        label=_("How often"), choices=ExportSubscription.Frequency.choices
    )
    weekday = forms.TypedChoiceField(
        label=_("Day of the week"),
        choices=weekday_choices,
        coerce=int,
        required=False,
        empty_value=None,
    )

    def clean(self):
        data = super().clean()
        weekly = data.get("frequency") == ExportSubscription.Frequency.WEEKLY
        if weekly and data.get("weekday") is None:
            self.add_error("weekday", _("Choose the day of the week."))
        return data


@staff_member_required
@require_http_methods(["GET", "POST"])
def export_list(request):
    """The exports the user may subscribe to, each with its subscription (if any)."""
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "unsubscribe":
            subscription = ExportSubscription.objects.filter(
                pk=request.POST.get("subscription") or 0, user=user
            ).first()
            if subscription is None:
                raise Http404
            if export_unsubscribe(subscription_id=subscription.pk, actor=user):
                messages.success(request, _("Subscription stopped."))
            return redirect("exports:list")
        form = SubscribeForm(request.POST)
        if form.is_valid():
            # Refused with 403 for an export the user may not have (export_subscribe).
            export_subscribe(
                user=user,
                key=form.cleaned_data["export"],
                frequency=form.cleaned_data["frequency"],
                weekday=form.cleaned_data["weekday"],
                language=get_language() or "zh-hans",
                base_url=request.build_absolute_uri("/"),
            )
            messages.success(
                request,
                _("Subscribed: the list comes by email from 07:00 Beijing time."),
            )
            return redirect("exports:list")
        messages.error(request, _("Choose how often, and the day of the week for a weekly export."))
    subscriptions = {
        subscription.export_key: subscription
        for subscription in ExportSubscription.objects.filter(user=user)
    }
    rows = [
        {"export": export, "subscription": subscriptions.get(export.key)}
        for export in exports_for(user)
    ]
    # Subscriptions to lists the user may no longer have, shown with why they stopped.
    offered = {row["export"].key for row in rows}
    stopped = [
        {"label": export_of(key).label if export_of(key) else key, "subscription": subscription}
        for key, subscription in subscriptions.items()
        if key not in offered
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("My scheduled exports"),
        "rows": rows,
        "stopped": stopped,
        "frequencies": ExportSubscription.Frequency.choices,
        "weekdays": weekday_choices(),
        "email": user.email,
    }
    return render(request, "registration/exports.html", context)


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """One link in every email: GET asks, POST stops the subscription."""
    subscription = subscription_of_token(token)
    if subscription is None:
        return render(
            request, "registration/export_unsubscribe.html", {"invalid": True}, status=404
        )
    export = export_of(subscription.export_key)
    done = False
    if request.method == "POST":
        export_unsubscribe(
            subscription_id=subscription.pk, actor=subscription.user, reason="unsubscribe link"
        )
        done = True
    context = {
        "subscription": subscription,
        "label": export.label if export else subscription.export_key,
        "done": done or not subscription.active,
        "action": reverse("exports:unsubscribe", args=[token]),
    }
    return render(request, "registration/export_unsubscribe.html", context)
