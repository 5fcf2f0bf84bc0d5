"""What the registration app tells the apps above it."""

from django.dispatch import Signal

#: A unit's contact approved colleagues who joined by the invite link: sent with ``unit`` and
#: ``visitors`` (the approved ones) inside the approval's transaction.
colleagues_joined = Signal()
