"""Staff roles as Django groups, with the permissions each needs.

``python manage.py sync_roles`` creates or updates them; later features add permissions here.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

ORGANISER = "主办方"
SECRETARY = "交易团秘书处"
FINANCE = "财务"
SECURITY_REVIEWER = "人员背审"
CREDENTIAL_OFFICE = "制证"
GATE = "入场核验"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ORGANISER: [
        "ciie_portal.*",
        "delegations.*",
        "registration.view_unit",
        "registration.change_unit",
        "registration.view_visitor",
        "registration.change_visitor",
        "registration.view_deliveryaddress",
        "registration.view_all_units",
        "registration.view_user",
        "registration.view_consentrecord",
        # 配套活动报名: the sign-ups, approved or declined in bulk, exported.
        "registration.view_sideeventsignup",
        "registration.decide_sideeventsignup",
        # 展商名录: the import (add + change exhibitor), edits by hand, listing in bulk.
        "registration.view_exhibitor",
        "registration.add_exhibitor",
        "registration.change_exhibitor",
        "registration.view_product",
        "registration.add_product",
        "registration.change_product",
        "registration.delete_product",
        # 洽谈预约: the meetings, answered and marked held in bulk (admin actions).
        "registration.view_meeting",
        "registration.change_meeting",
        # 积分: rules per edition, coupon offers and their codes, the ledger and adjustments.
        "credentials.view_pointsrule",
        "credentials.add_pointsrule",
        "credentials.change_pointsrule",
        "credentials.delete_pointsrule",
        "credentials.view_couponbatch",
        "credentials.add_couponbatch",
        "credentials.change_couponbatch",
        "credentials.view_coupon",
        "credentials.view_pointsentry",
        "credentials.adjust_points",
        "credentials.view_credentialorder",
        "credentials.view_orderline",
        "payments.view_payment",
        "payments.view_paymentnotification",
        "payments.view_refund",
        "payments.view_refundline",
        "invoicing.view_invoice",
        "invoicing.view_invoiceline",
        # The invoice types each edition offers (数电专票, paper special invoices).
        "invoicing.view_invoiceoptions",
        "invoicing.add_invoiceoptions",
        "invoicing.change_invoiceoptions",
        "credentials.view_reviewbatch",
        "credentials.add_reviewbatch",
        "credentials.view_reviewresult",
        "credentials.add_reviewresult",
        "credentials.view_credential",
        "credentials.revoke_credential",
        "credentials.check_credential",
        "credentials.view_productionjob",
        "credentials.add_productionjob",
        "credentials.change_productionjob",
        "credentials.view_printbatch",
        "credentials.confirm_printbatch",
        "credentials.view_parcel",
        "credentials.view_parcelitem",
        "credentials.view_pickuplist",
        "credentials.view_pickupitem",
        "credentials.issue_credentials",
        "credentials.hand_over_pickuplist",
        # The gate (credentials/entry): scans, devices, entry rules; holds are seen only.
        "credentials.view_scan",
        "credentials.force_entry",
        "credentials.view_gatedevice",
        "credentials.add_gatedevice",
        "credentials.change_gatedevice",
        "credentials.view_entryrule",
        "credentials.add_entryrule",
        "credentials.change_entryrule",
        "credentials.delete_entryrule",
        "credentials.view_securityhold",
        # Organisers see every credential: they may put holders on hold from that list too.
        "credentials.add_securityhold",
        "credentials.place_hold",
        # Reset another staff member's two-factor sign-in (ciie_portal/two_factor).
        "otp_totp.delete_totpdevice",
        "otp_static.delete_staticdevice",
    ],
    SECRETARY: [
        # 运行监控: their delegation's part of the operations page (ciie_portal/admin_ops.py).
        "ciie_portal.view_operations",
        "delegations.view_delegation",
        "registration.view_unit",
        "registration.change_unit",
        "registration.view_visitor",
        "registration.change_visitor",
        "registration.view_deliveryaddress",
        # Their delegation's side-event sign-ups (registration.side_events.staff).
        "registration.view_sideeventsignup",
        "credentials.view_credentialorder",
        "credentials.view_orderline",
        "credentials.settle_delegation_order",
        "credentials.view_credential",
        "credentials.view_parcel",
        "credentials.view_parcelitem",
        "credentials.view_pickuplist",
        "credentials.view_pickupitem",
        "credentials.hand_over_pickuplist",
    ],
    FINANCE: [
        # 运行监控: the payments' part of the operations page (ciie_portal/admin_ops.py).
        "ciie_portal.view_operations",
        "ciie_portal.view_edition",
        "ciie_portal.view_entryperiod",
        "credentials.view_credentialorder",
        "credentials.view_orderline",
        "payments.view_payment",
        "payments.view_paymentnotification",
        "payments.confirm_transfer",
        "payments.view_refund",
        "payments.view_refundline",
        "payments.approve_refund",
        "payments.view_bankstatement",
        "payments.add_bankstatement",
        "payments.view_statemententry",
        "invoicing.view_invoice",
        "invoicing.view_invoiceline",
        "invoicing.issue_invoice",
    ],
    SECURITY_REVIEWER: [
        "registration.view_visitor",
        "credentials.view_reviewbatch",
        "credentials.add_reviewbatch",
        "credentials.view_reviewresult",
        "credentials.add_reviewresult",
        # Security holds (credentials/entry/holds.py) and the watchlist (registration/watchlist.py).
        "credentials.view_securityhold",
        "credentials.add_securityhold",
        "credentials.place_hold",
        "registration.view_watchlistentry",
        "registration.add_watchlistentry",
        "registration.change_watchlistentry",
        "registration.view_watchlistmatch",
        # The gate's record: flagged offline admissions, holders let in against the check.
        "credentials.view_scan",
    ],
    CREDENTIAL_OFFICE: [
        "registration.view_visitor",
        "credentials.view_credential",
        "credentials.revoke_credential",
        "credentials.check_credential",
        "credentials.view_productionjob",
        "credentials.add_productionjob",
        "credentials.change_productionjob",
        "credentials.view_printbatch",
        "credentials.confirm_printbatch",
        "credentials.view_parcel",
        "credentials.view_parcelitem",
        "credentials.view_pickuplist",
        "credentials.view_pickupitem",
        "credentials.issue_credentials",
        "credentials.hand_over_pickuplist",
    ],
    # Gate staff: the check page and endpoint, and the scans.
    GATE: ["credentials.check_credential", "credentials.view_scan"],
}


def _permissions(patterns: list[str]) -> list[Permission]:
    query = Q(pk__in=[])
    for pattern in patterns:
        app_label, codename = pattern.split(".", 1)
        if codename == "*":
            query |= Q(content_type__app_label=app_label)
        else:
            query |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(query))


@transaction.atomic
def roles_sync() -> dict[str, int]:
    counts = {}
    for name, patterns in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = _permissions(patterns)
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts
