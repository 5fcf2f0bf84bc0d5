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
