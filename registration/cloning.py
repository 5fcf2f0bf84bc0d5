"""This app's part of cloning an edition (``ciie_portal.cloning``): invitation and
recommendation codes, each as a NEW code — a code of last year must not let a unit into this
year's delegation, and a leaked one must not live on. Units, visitors and accounts are personal
and never copied."""

import secrets

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ciie_portal.cloning import CloneContext, Cloner, register_cloner

from .models import InvitationCode, RecommendationCode

# Crockford base32: no I, L, O or U to misread when a code is read out or typed.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8


def _new_codes(old: list[str]) -> list[str]:
    """One fresh code per old one: different from every old code and from each other."""
    taken = set(old)
    codes = []
    while len(codes) < len(old):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            codes.append(code)
    return codes


def _copy_invitation_codes(ctx: CloneContext) -> list[str]:
    old = list(
        InvitationCode.objects.filter(edition=ctx.source)
        .select_related("delegation")
        .order_by("delegation__code", "code")
    )
    InvitationCode.objects.bulk_create(
        InvitationCode(
            edition=ctx.target, code=code, delegation=row.delegation, is_active=row.is_active
        )
        for row, code in zip(old, _new_codes([row.code for row in old]), strict=True)
    )
    new = gettext("a new code")
    return [f"{row.delegation}: {row.code} → {new}" for row in old]


def _copy_recommendation_codes(ctx: CloneContext) -> list[str]:
    old = list(RecommendationCode.objects.filter(edition=ctx.source).order_by("partner", "code"))
    RecommendationCode.objects.bulk_create(
        RecommendationCode(
            edition=ctx.target, code=code, partner=row.partner, is_active=row.is_active
        )
        for row, code in zip(old, _new_codes([row.code for row in old]), strict=True)
    )
    new = gettext("a new code")
    return [f"{row.partner}: {row.code} → {new}" for row in old]


def register() -> None:
    register_cloner(
        Cloner(
            name="registration.invitation_codes",
            label=_("Invitation codes (new codes)"),
            models=("registration.InvitationCode",),
            copy=_copy_invitation_codes,
        )
    )
    register_cloner(
        Cloner(
            name="registration.recommendation_codes",
            label=_("Recommendation codes (new codes)"),
            models=("registration.RecommendationCode",),
            copy=_copy_recommendation_codes,
        )
    )
