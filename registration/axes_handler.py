"""django-axes' handler for this portal (``AXES_HANDLER``)."""

from axes.attempts import get_cool_off_threshold as cool_off
from axes.conf import settings as axes_settings
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt


class AxesHandler(AxesDatabaseHandler):
    """django-axes' database handler, deleting attempts in one statement each.

    At every successful sign-in django-axes deletes the expired attempts and the account's own;
    ``QuerySet.delete()`` first reads the rows (django-axes listens for their deletion) and then
    deletes them in a transaction of its own: three statements where one does, even when there
    is nothing to delete. Its listener does nothing for this handler, and without
    ``AXES_USE_ATTEMPT_EXPIRATION`` no row points at an attempt, so one ``DELETE`` is all."""

    def clean_expired_user_attempts(self, request=None, credentials=None) -> int:
        if axes_settings.AXES_COOLOFF_TIME is None or axes_settings.AXES_USE_ATTEMPT_EXPIRATION:
            return super().clean_expired_user_attempts(request, credentials)
        return _delete(AccessAttempt.objects.filter(attempt_time__lte=cool_off(request)))

    def reset_user_attempts(self, request, credentials=None) -> int:
        if axes_settings.AXES_USE_ATTEMPT_EXPIRATION:
            return super().reset_user_attempts(request, credentials)
        return sum(
            _delete(attempts) for attempts in self.filter_user_attempts(request, credentials)
        )


def _delete(attempts) -> int:
    return attempts._raw_delete(attempts.db)
