"""What the directory part registers at start-up (called from ``wiring.ready()``)."""

from ciie_portal import read_cache

from .directory import CACHE_TOPIC
from .models import Exhibitor, Product


def ready() -> None:
    # Whether an edition has a directory, and its countries, are kept in the shared cache: read
    # anew when an exhibitor or a product is saved or deleted one by one (the importer, which
    # writes in bulk, forgets them itself).
    read_cache.forget_on_change(CACHE_TOPIC, Exhibitor, Product)
