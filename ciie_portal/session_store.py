"""The session store with a shared cache: Django's ``cached_db`` (read from the cache, written to
the cache and the database), writing a new session's row once.

Django writes a session's row as soon as it has a new key. At sign-in that is twice:
``cycle_key()`` inserts the new key's row, empty, and the response then updates it with the
signed-in user; and before the insert it asks the cache and then the database whether the
random key is taken. Here a new key is only drawn, and its row is inserted once, with what the
session holds by then, when the response saves the session. A key taken already (32 random
letters and digits: in practice never) makes that insert fail, and another key is drawn, as
Django's own ``create()`` does; the cookie is set after the save, with the key that was stored.

The session is also read from the cache in the same round trip as the generations of the
read-mostly data the request goes on to read (``read_cache.get_with_snapshot``).
"""

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.utils.crypto import get_random_string

from ciie_portal.read_cache import get_with_snapshot


class SessionStore(cached_db.SessionStore):
    #: A key drawn whose row is not written yet.
    _row_pending = False

    def load(self):
        # cached_db's own, reading the cache with the request's snapshot.
        try:
            if settings.SESSION_CACHE_ALIAS == "default":  # read_cache's
                data = get_with_snapshot(self.cache_key)
            else:
                data = self._cache.get(self.cache_key)
        except Exception:  # noqa: BLE001 - as cached_db: an unreadable entry is a lost one
            data = None
        if data is None:
            row = self._get_session_from_db()
            if row:
                data = self.decode(row.session_data)
                self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
            else:
                data = {}
        return data

    def _get_new_session_key(self):
        # No lookup: the insert itself refuses a key that is taken (``_insert``).
        return get_random_string(32, VALID_KEY_CHARS)

    def create(self):
        self._session_key = self._get_new_session_key()
        self._row_pending = True
        self.modified = True

    def save(self, must_create=False):
        if self.session_key is None or self._row_pending:
            self._insert()
        else:
            super().save(must_create=must_create)

    def _insert(self):
        if self.session_key is None:
            self._session_key = self._get_new_session_key()
        while True:
            try:
                super().save(must_create=True)
            except CreateError:
                self._session_key = self._get_new_session_key()
                continue
            self._row_pending = False
            return
