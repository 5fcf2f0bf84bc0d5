"""积分: points for a unit and its visitors, and their exchange for electronic coupons.

- ``models``: the organiser's rules per edition (``PointsRule``), the append-only ledger
  (``PointsEntry``), the coupon offers (``CouponBatch``) and their codes (``Coupon``);
- ``services``: every write — awarding an event once (hooks and ``points_catch_up``), the
  exchange under the unit's lock, the organiser's adjustments and code loads;
- ``selectors``: balances, history, per-visitor totals, the offers, the dashboard panel;
- ``wiring``: what ``CredentialsConfig.ready()`` connects (hooks, cache topic, panel, admin,
  cloner, task).
"""
