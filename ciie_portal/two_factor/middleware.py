"""Staff pages outside the admin (``/staff/``, ``/gate/``, finance's and secretaries' pages
under ``/payments/`` and ``/invoices/``, vouchers and invoice PDFs) also wait for the second
factor: a staff user who gave only the password reaches nothing but the sign-in, the
second-factor pages, signing out, the language switch and static files.

Install after ``django_otp.middleware.OTPMiddleware``.
"""

from django.conf import settings
from django.urls import Resolver404, resolve

from . import awaiting_second_factor
from .views import redirect_to_second_factor

OPEN_VIEWS = frozenset(
    {
        "admin:login",
        "admin:logout",
        "admin:two_factor",
        "admin:two_factor_enrol",
        "set_language",
        "healthz",
        "readyz",
        "metrics",
        "csp_report",
    }
)


class StaffSecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if awaiting_second_factor(request) and not self._open(request):
            return redirect_to_second_factor(request, request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _open(request) -> bool:
        static_url = settings.STATIC_URL or ""
        if static_url.startswith("/") and request.path_info.startswith(static_url):
            return True
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return True  # a 404 page gives nothing away
        return match.view_name in OPEN_VIEWS
