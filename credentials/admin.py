"""The admin of each part of the app lives in that part; importing them here registers them
(Django's admin looks for ``credentials.admin``)."""

from credentials.entry import admin as entry_admin
from credentials.entry import admin_holds
from credentials.issuance import admin as issuance_admin
from credentials.orders import admin as orders_admin
from credentials.production import admin as production_admin
from credentials.review import admin as review_admin

__all__ = [
    "admin_holds",
    "entry_admin",
    "issuance_admin",
    "orders_admin",
    "production_admin",
    "review_admin",
]
