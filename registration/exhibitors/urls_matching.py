"""The matching pages' URLs (included by ``urls.py``, in the registration namespace)."""

urlpatterns = []
