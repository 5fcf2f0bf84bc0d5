from django.contrib.auth import backends as auth_backends

from ciie_portal.crypto import normalize_id
from ciie_portal.sql_once import WrittenOnce


def normalize_login_name(value: str) -> str:
    """Unit accounts are USCCs or account numbers: compare them upper-case, without spaces.

    Staff usernames (lower-case words) pass through unchanged.
    """
    candidate = normalize_id(value or "")
    if len(candidate) in (10, 18) and candidate.isalnum():
        return candidate
    return (value or "").strip()


def login_name_from_request(request, credentials):
    """django-axes counts failures per login name as the login form normalises it."""
    name = (credentials or {}).get("username") or request.POST.get("username", "")
    return normalize_login_name(name)


def password_reset_account(login_name: str):
    """The account a code to its mobile may reset, or None (then nobody gets a code)."""
    from .models import User

    return User.objects.filter(username=login_name, is_active=True).exclude(mobile="").first()


def _user(pk):
    from .models import User

    return User.objects.filter(pk=pk)


_USER = WrittenOnce(_user)


def _unit_with_account(account_id, edition_id):
    from .models import Unit

    return (
        Unit.objects.filter(account_id=account_id, edition_id=edition_id)
        .select_related("account")
        .order_by("pk")
    )


_UNIT_WITH_ACCOUNT = WrittenOnce(_unit_with_account)

#: The attribute of a user read with their unit: (edition id, unit), for ``registration.access``.
UNIT_READ_WITH_USER = "_unit_read_with_user"


class ModelBackend(auth_backends.ModelBackend):
    """Django's, with the signed-in user of every request read by a statement written once per
    process: the ORM built the same ``SELECT`` anew for each request, which cost more CPU than
    running it (``benchmarks/rush.py``)."""

    def get_user(self, user_id):
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        found = _USER.objects(pk)
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None


#: The backend a unit contact's session names once signed in (``note_unit_contact``).
UNIT_CONTACT_BACKEND = "registration.auth.UnitContactBackend"


class UnitContactBackend(ModelBackend):
    """Reads the user of a unit contact's session — nearly every signed-in request — together
    with their unit of the current edition, in one statement (the unit's row with its
    account's); the request's ``current_unit`` then takes that unit instead of asking again.
    Without such a unit (a contact of earlier editions only) the user is read alone, as by
    ``ModelBackend``, which staff sessions keep naming.

    It checks no password: ``authenticate`` is ``ModelBackend``'s; a contact's session is moved
    to this backend at sign-in (``note_unit_contact``)."""

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        from ciie_portal.context_processors import current_edition

        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        edition = current_edition()
        if edition is not None:
            found = _UNIT_WITH_ACCOUNT.objects(pk, edition.pk, limit=1)
            if found:
                unit = found[0]
                user = unit.account
                if not self.user_can_authenticate(user):
                    return None
                setattr(user, UNIT_READ_WITH_USER, (edition.pk, unit))
                return user
        return super().get_user(user_id)


def note_unit_contact(sender, request, user, **kwargs) -> None:
    """At sign-in (``user_logged_in``), a unit contact's session names ``UnitContactBackend``."""
    from django.contrib.auth import BACKEND_SESSION_KEY

    session = getattr(request, "session", None)
    if session is not None and not user.is_staff:
        session[BACKEND_SESSION_KEY] = UNIT_CONTACT_BACKEND
