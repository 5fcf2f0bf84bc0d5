import pytest
from tests.registration.test_returning import *  # noqa

pytestmark = pytest.mark.urls("tests.registration.returning_urls")

def test_dump(client, edition, old_unit, old_visitors, organiser, django_capture_on_commit_callbacks):
    client.post(URL, {"method": "sms", "username": OLD_USCC, "send_code": "1"})
    page = client.post(URL + "?method=sms", {"method": "sms", "username": OLD_USCC, "code": "1", "password1": "a", "password2": "b"}).content.decode()
    print(page[page.index("<main"):page.index("</main>")])
    with django_capture_on_commit_callbacks(execute=True):
        one_click_invite_send(units=[old_unit], actor=organiser, base_url="https://x.example")
    n = Notice.objects.get(event="one_click_invite")
    print(render_notice(n))
    page = client.get(n.params["link"].removeprefix("https://x.example")).content.decode()
    print(page[page.index("<main"):page.index("</main>")])
