"""The meetings admin (imported by ``admin.py``)."""
