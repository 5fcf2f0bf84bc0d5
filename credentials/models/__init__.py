"""The app's models, each defined in its part of the app and named here, where Django looks for
them (``credentials.models``) and where the other apps import them from.

- ``orders``: credential orders and their lines (订单);
- ``review``: the visitor review's batches and results (人员信息审核);
- ``production``: production jobs, print batches and the credentials themselves (证件制作);
- ``entry``: gate scans, entry rules, gate devices and security holds (入场);
- ``issuance``: courier parcels and delegation pick-up lists (证件发放);
- ``points``: points rules, the points ledger and coupons (积分).
"""

from credentials.entry.models import EntryRule, GateDevice, Scan, SecurityHold
from credentials.issuance.models import IssuanceCounter, Parcel, ParcelItem, PickupItem, PickupList
from credentials.orders.models import CredentialOrder, OrderLine
from credentials.points.models import Coupon, CouponBatch, PointsEntry, PointsRule
from credentials.production.models import Credential, CredentialCounter, PrintBatch, ProductionJob
from credentials.review.models import ReviewBatch, ReviewResult

__all__ = [
    "EntryRule",
    "GateDevice",
    "Scan",
    "SecurityHold",
    "Coupon",
    "CouponBatch",
    "Credential",
    "CredentialCounter",
    "CredentialOrder",
    "IssuanceCounter",
    "OrderLine",
    "Parcel",
    "ParcelItem",
    "PickupItem",
    "PickupList",
    "PointsEntry",
    "PointsRule",
    "PrintBatch",
    "ProductionJob",
    "ReviewBatch",
    "ReviewResult",
]
