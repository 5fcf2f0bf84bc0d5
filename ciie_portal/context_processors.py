from .models import Edition, EntryPeriod
from .read_cache import kept


def current_edition() -> Edition | None:
    """The current edition, kept in the shared cache (``read_cache``: read anew as soon as an
    edition is saved, updated or deleted)."""
    return kept("edition", "current", lambda: Edition.objects.filter(is_current=True).first())


def current_edition_for(request) -> Edition | None:
    """The current edition, read at most once per request."""
    if not hasattr(request, "_current_edition"):
        request._current_edition = current_edition()
    return request._current_edition


def edition(request):
    return {"current_edition": current_edition_for(request)}


def entry_periods_of(edition) -> list:
    """The edition's entry periods (in their order), kept in the shared cache."""
    return kept(
        "edition",
        f"entry-periods:{edition.pk}",
        lambda: list(EntryPeriod.objects.filter(edition=edition)),
    )
