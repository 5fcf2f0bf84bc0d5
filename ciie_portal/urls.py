from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from . import views, views_ops, views_privacy
from .two_factor.site import require_second_factor

# Staff sign in with a password and a second factor (TOTP app or backup code) before any admin
# page: see ciie_portal/two_factor/.
require_second_factor(admin.site)
admin.site.site_header = _("CIIE professional visitors — administration")
admin.site.site_title = _("CIIE portal administration")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("", include("delegations.urls_landing")),
    path("healthz", views.healthz, name="healthz"),
    # Readiness (database, migrations, cache, broker), Prometheus metrics (ciie_portal.views_ops).
    path("readyz", views_ops.readyz, name="readyz"),
    path("metrics", views_ops.metrics_view, name="metrics"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Content-Security-Policy violation reports (the policy's report-uri).
    path("csp-report/", views.csp_report, name="csp_report"),
    path("i18n/", include("django.conf.urls.i18n")),
    # 隐私政策: the version in force, a given version, and accepting a new one (registration).
    path("privacy/", views_privacy.privacy_policy, name="privacy"),
    path(
        "privacy/<int:edition>/v<int:version>/",
        views_privacy.privacy_policy,
        name="privacy_version",
    ),
    path("privacy/accept/", include("registration.urls_consent")),
    # The unit's orders and 注销 of a visitor (namespace ``credentials``).
    path("accounts/orders/", include("credentials.urls")),
    # 证件发放: the unit's credentials, parcels (查看物流) and pick-up by the delegation.
    path("accounts/credentials/", include("credentials.issuance.urls")),
    # 采购商满意度调查: the unit's buyer satisfaction survey (namespace ``survey``).
    path("accounts/survey/", include("delegations.survey.urls")),
    # 积分: the unit's points page lives with the credentials app's pages.
    path(
        "accounts/points/",
        RedirectView.as_view(pattern_name="credentials:points", permanent=False),
    ),
    path("accounts/", include("registration.urls")),
    # 我的定期导出: staff subscribe to their lists by email; the emails' unsubscribe links.
    path("staff/exports/", include("registration.urls_exports")),
    path("staff/", include("delegations.urls")),
    # 入场核验: the gate's page and JSON endpoint (public key + revocation list).
    path("gate/", include("credentials.entry.urls")),
    path("payments/", include("payments.urls")),
    path("invoices/", include("invoicing.urls")),
    # 运行监控: the operations page in the admin and its JSON (ciie_portal/admin_ops.py).
    path("admin/ops/", include("ciie_portal.admin_ops")),
    path("admin/", admin.site.urls),
]
