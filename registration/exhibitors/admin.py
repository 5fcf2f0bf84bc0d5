"""The organiser's admin of 供采对接 (imported by ``registration.admin``)."""

from . import admin_directory, admin_meetings  # noqa: F401 (each registers its models)
