"""Reading the cells of uploaded spreadsheets (openpyxl) the same way everywhere."""

import unicodedata
from datetime import date, datetime


def cell_text(value) -> str:
    """A cell as text: empty for nothing, 12 not 12.0, dates as ISO dates, no outer spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def fold(text) -> str:
    """How titles, names and values are compared: full-width and half-width alike, no spaces,
    any case."""
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split()).casefold()
