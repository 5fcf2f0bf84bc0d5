from .models import Edition


def current_edition_for(request) -> Edition | None:
    """The current edition, read at most once per request."""
    if not hasattr(request, "_current_edition"):
        request._current_edition = Edition.objects.filter(is_current=True).first()
    return request._current_edition


def edition(request):
    return {"current_edition": current_edition_for(request)}
