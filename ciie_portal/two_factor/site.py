"""The admin asks every staff user for a second factor before any of its pages.

``require_second_factor(admin.site)`` (called by ``ciie_portal/urls.py`` before the admin's URLs
are built) gives the project's one admin site — the object every ``ModelAdmin`` is registered
on, with its name and URLs — the behaviour of ``SecondFactorAdminSite``:

- ``has_permission`` also asks for a second factor passed in this session (django-otp's
  ``request.user.is_verified()``), as ``django_otp.admin.OTPAdminSite`` does; every admin page,
  action and form goes through it (``admin_view``), and so does ``each_context``;
- a staff user who gave the password but not yet the second factor is sent to the second-factor
  page (enrolment on the first sign-in, else a code) instead of the sign-in page, from the
  sign-in page too; signing out stays open to them;
- the sign-in page's password step is audited (``staff.signed_in``);
- django-otp's own device admins are removed: they would show any account's TOTP key to a
  superuser. Devices change only by enrolment, the owner's new backup codes and an organiser's
  reset (``SecondFactorResetMixin`` on the user admin).
"""

from functools import update_wrapper

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.functional import LazyObject
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import awaiting_second_factor, demo_exempt, second_factor_passed, services, views


class SecondFactorAdminSite(AdminSite):
    def has_permission(self, request):
        return super().has_permission(request) and second_factor_passed(request)

    def admin_view(self, view, cacheable=False):
        checked = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            if awaiting_second_factor(request):
                if request.path == reverse("admin:logout", current_app=self.name):
                    return view(request, *args, **kwargs)  # LogoutView: POST and CSRF only
                return views.redirect_to_second_factor(request, request.get_full_path())
            return checked(request, *args, **kwargs)

        return update_wrapper(inner, view)

    def login(self, request, extra_context=None):
        if request.method == "GET" and awaiting_second_factor(request):
            return views.redirect_to_second_factor(request, views.next_url(request))
        response = super().login(request, extra_context)
        user = request.user
        if (
            request.method == "POST"
            and isinstance(response, HttpResponseRedirect)
            and user.is_authenticated
            and user.is_staff
        ):
            # The password was right (django-axes counted it): the second step follows.
            exempt = demo_exempt(user)
            services.staff_signed_in(request=request, user=user, exempt=exempt)
            if not exempt:
                return views.redirect_to_second_factor(request, response["Location"])
        return response

    def get_urls(self):
        def bound(view):
            def wrapper(request, *args, **kwargs):
                return view(request, *args, site=self, **kwargs)

            return update_wrapper(wrapper, view)

        return [
            path("two-factor/", bound(views.verify), name="two_factor"),
            path("two-factor/enrol/", bound(views.enrol), name="two_factor_enrol"),
            path(
                "two-factor/backup-codes/",
                self.admin_view(bound(views.backup_codes)),
                name="two_factor_backup_codes",
            ),
            *super().get_urls(),
        ]


def require_second_factor(site) -> None:
    """Give ``site`` (``django.contrib.admin.site``) the second-factor behaviour in place, so
    that every registered ``ModelAdmin`` and every ``admin.site`` reference keeps working."""
    target = site
    if isinstance(site, LazyObject):
        site.name  # noqa: B018 - builds the default site if nothing has yet
        target = site._wrapped
    if type(target) is AdminSite:
        target.__class__ = SecondFactorAdminSite
    elif not isinstance(target, SecondFactorAdminSite):
        raise ImproperlyConfigured(
            f"{type(target).__name__} would not ask staff for a second factor: derive it from "
            "ciie_portal.two_factor.site.SecondFactorAdminSite."
        )
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        if target.is_registered(model):
            target.unregister(model)


class SecondFactorResetMixin:
    """For the user admin: an organiser resets another staff member's second factor (a lost or
    replaced phone). Their next sign-in enrols a new app."""

    actions = ["second_factor_reset"]

    def has_second_factor_reset_permission(self, request):
        return services.may_reset_second_factor(request.user)

    @admin.action(
        description=_("Reset two-factor sign-in (lost phone)"),
        permissions=["second_factor_reset"],
    )
    def second_factor_reset(self, request, queryset):
        reset = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(
                    request,
                    _("Your own two-factor sign-in is reset by another organiser."),
                    messages.WARNING,
                )
                continue
            services.second_factor_reset(actor=request.user, user=user, request=request)
            reset += 1
        if reset:
            self.message_user(
                request,
                ngettext(
                    "Two-factor sign-in reset for %(count)d account: it enrols a new app at "
                    "its next sign-in.",
                    "Two-factor sign-in reset for %(count)d accounts: each enrols a new app at "
                    "its next sign-in.",
                    reset,
                )
                % {"count": reset},
                messages.SUCCESS,
            )
