"""The directory admin (imported by ``admin.py``)."""
