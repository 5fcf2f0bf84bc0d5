"""The admin list cells written without Django's per-row work give Django's own HTML."""

from django.contrib import admin
from django.contrib.admin.utils import display_for_value

from ciie_portal.admin_lists import ListCellsMixin, boolean_icon
from registration.models import Visitor
from tests.registration.factories import VisitorFactory


class _Ours(ListCellsMixin, admin.ModelAdmin):
    pass


def test_the_action_checkbox_is_the_one_django_renders(db, settings):
    visitor = VisitorFactory(name='<b>"O\'Neil" & 陈</b>')
    django_admin = admin.ModelAdmin(Visitor, admin.site)

    for language in ("zh-hans", "en"):
        from django.utils import translation

        with translation.override(language):
            ours = _Ours(Visitor, admin.site).action_checkbox(visitor)
            assert ours == django_admin.action_checkbox(visitor)
    assert "&lt;b&gt;" in ours and "<b>" not in ours


def test_the_boolean_icons_are_the_admins(settings):
    for value in (True, False, None):
        assert boolean_icon(value) == display_for_value(value, "", boolean=True)
    settings.STATIC_URL = "/elsewhere/"
    assert boolean_icon(True).startswith('<img src="/elsewhere/')
