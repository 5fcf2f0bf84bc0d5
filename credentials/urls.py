"""The unit's pages of this app at ``accounts/orders/`` (namespace ``credentials``): its orders
and the 注销 of a visitor. The other pages have URLconfs of their own, included by the project:
``credentials.issuance.urls`` (``accounts/credentials/``) and ``credentials.entry.urls``
(the gate, ``gate/``)."""

from credentials.orders.urls import urlpatterns as order_patterns
from credentials.points.urls import urlpatterns as points_patterns
from credentials.review.urls import urlpatterns as review_patterns

app_name = "credentials"

# 积分 before the orders: an order's number would take ``points/``.
urlpatterns = [*review_patterns, *points_patterns, *order_patterns]
