"""供采对接's URLs, under the unit's pages (``/accounts/``, the registration namespace)."""

from . import urls_directory, urls_matching, urls_meetings

urlpatterns = [
    *urls_directory.urlpatterns,
    *urls_matching.urlpatterns,
    *urls_meetings.urlpatterns,
]
