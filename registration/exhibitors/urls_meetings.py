"""The meetings pages' URLs (included by ``urls.py``, in the registration namespace)."""

urlpatterns = []
