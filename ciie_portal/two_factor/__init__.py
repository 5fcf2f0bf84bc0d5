"""Two-factor sign-in for staff (MLPS 2.0 level 3: two factors for administrators).

Every staff account — secretaries, finance, organisers, the credential office, security
reviewers, gate staff, superusers — signs in with its password and then with a second factor:
a TOTP code from an authenticator app (django-otp's ``TOTPDevice``) or one of its one-time
backup codes (``StaticDevice``). The first sign-in enrols the app. Unit contacts (not staff) are
not concerned.

- ``site.py``: the admin site's behaviour (no admin page before the second factor), the
  enrolment and verification pages' URLs, the organiser's reset action on users.
- ``views.py``: enrolment, verification, backup codes.
- ``services.py``: every write (device confirmed, codes made, devices removed), audited.
- ``middleware.py``: the same rule for staff pages outside the admin.

This module holds the rule itself: who still owes a second factor in a request.
"""

from django.conf import settings

# The staff accounts ``manage.py demo_load`` creates (delegations/demo.py). With
# TWO_FACTOR_DEMO_EXEMPT — embedded mode only, the settings refuse it elsewhere — they sign in
# with their password alone, so that ``make run`` can be shown at once. Nothing else is exempt.
DEMO_STAFF_USERNAMES = frozenset(
    {
        "gd-secretary",
        "gz-secretary",
        "zj-secretary",
        "finance",
        "organiser",
        "reviewer",
        "office",
        "gate",
    }
)


def demo_exempt(user) -> bool:
    """A demo account, in embedded mode with the exemption on."""
    return (
        bool(getattr(settings, "TWO_FACTOR_DEMO_EXEMPT", False))
        and not user.is_superuser
        and user.get_username() in DEMO_STAFF_USERNAMES
    )


def is_staff_account(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def second_factor_passed(request) -> bool:
    """Whether the signed-in user passed a second factor in this session (or is exempt).

    ``request.user.is_verified()`` comes from django-otp's middleware: a confirmed device of
    this user recorded in the session by ``django_otp.login``. A user object without it (right
    after the password step, which replaces ``request.user``) has not.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    is_verified = getattr(user, "is_verified", None)
    if callable(is_verified) and is_verified():
        return True
    return demo_exempt(user)


def awaiting_second_factor(request) -> bool:
    """A staff user who has given the password but not yet the second factor."""
    return is_staff_account(getattr(request, "user", None)) and not second_factor_passed(request)
