"""What this package tells the apps above it (the points of ``credentials.points``)."""

from django.dispatch import Signal

#: A confirmed meeting was marked held: sent with ``meeting`` inside the transaction that
#: marked it (a receiver's writes commit or roll back with it).
meeting_held = Signal()
