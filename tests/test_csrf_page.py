"""A form sent without its CSRF token gets the portal's own 403 page, which carries no inline
style or script (Django's default page does, and the Content-Security-Policy would block it)."""

from django.test import Client


def test_a_form_without_its_token_gets_a_clear_page_without_inline_code(db):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-error="csrf"' in html
    assert "<style" not in html and "style=" not in html
    assert "<script" not in html
    assert "Content-Security-Policy" in response
