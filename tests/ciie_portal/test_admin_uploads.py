"""An upload page whose previewed plan can no longer be applied says so, above an empty form."""

from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from ciie_portal.admin_uploads import UploadReportView


class _Expired(UploadReportView):
    title = "Import"

    def apply(self, plan):
        raise ValidationError("The preview has expired: upload the file again.")


def test_a_plan_that_cannot_be_applied_is_a_message_not_a_crash(admin_user):
    request = RequestFactory().post("/admin/x/import/", {"plan": "signed-plan"})
    request.user = admin_user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    response = _Expired.as_view()(request)
    response.render()
    assert response.status_code == 200
    assert [str(m) for m in get_messages(request)] == [
        "The preview has expired: upload the file again."
    ]
    assert not response.context_data["adminform"].form.is_bound
