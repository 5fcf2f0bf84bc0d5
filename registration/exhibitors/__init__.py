"""供采对接: the exhibitor and product directory, matched to units' purchase intentions, with
favourites and meetings between a unit and an exhibitor during the expo days."""
