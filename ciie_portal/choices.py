"""Choices shared by every app (they sit here because the edition settings refer to them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.TextChoices):
    MAINLAND = "mainland", _("Chinese mainland")
    HMT = "hmt", _("Hong Kong, Macao and Taiwan")
    OTHER = "other", _("Other countries or regions")


class UnitCategory(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    SOCIAL_ORGANISATION = "social_organisation", _("Social organisation")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")
    GOVERNMENT = "government", _("Government agency")
    OVERSEAS_ENTERPRISE = "overseas_enterprise", _("Enterprise (overseas)")
    OVERSEAS_GOVERNMENT = "overseas_government", _("Government department (overseas)")
    OVERSEAS_SOCIAL_ORGANISATION = (
        "overseas_social_organisation",
        _("Social organisation (overseas)"),
    )
    OVERSEAS_OTHER = "overseas_other", _("Other (overseas)")

    @classmethod
    def domestic(cls):
        return [cls.ENTERPRISE, cls.SOCIAL_ORGANISATION, cls.PUBLIC_INSTITUTION, cls.GOVERNMENT]

    @classmethod
    def overseas(cls):
        return [
            cls.OVERSEAS_ENTERPRISE,
            cls.OVERSEAS_GOVERNMENT,
            cls.OVERSEAS_SOCIAL_ORGANISATION,
            cls.OVERSEAS_OTHER,
        ]
