"""Templates compiled per language with their constant texts translated once
(``ciie_portal.template_loaders``)."""

import re
from pathlib import Path

from django.conf import settings
from django.template import engines
from django.template.base import TextNode
from django.templatetags.i18n import TranslateNode
from django.utils import translation

from ciie_portal.template_loaders import constant

PAGE = """{% load i18n %}<p>{% translate "Visitors" %}</p>
{% if shown %}<b>{% translate "Submit" %}</b>{% endif %}
{% for x in items %}<i>{% translate "Visitors" as label %}{{ label }}</i>{% endfor %}
<s>{% translate word %}</s><u>{% translate "May" context "month name" %}</u>
<q>{% translate "Visitors"|upper %}</q>"""


def _translate_nodes(template):
    return list(template.template.nodelist.get_nodes_by_type(TranslateNode))


def test_constant_tags_become_text_in_the_language_they_were_loaded_in(tmp_path, settings):
    (tmp_path / "page.html").write_text(PAGE)
    settings.TEMPLATES = [
        {
            **settings.TEMPLATES[0],
            "DIRS": [tmp_path],
        }
    ]
    settings.BASE_DIR = tmp_path
    engine = engines["django"]
    rendered = {}
    for language in ("zh-hans", "en", "zh-hans"):
        with translation.override(language):
            template = engine.get_template("page.html")
            left = _translate_nodes(template)
            # Only the tags whose text depends on the context are left.
            assert all(not constant(node) for node in left)
            assert len(left) == 3  # "as label", a variable, a filter
            rendered[language] = template.render({"shown": True, "items": [1], "word": "Cancel"})
    with translation.override("en"):
        english = rendered["en"]
    assert "<p>Visitors</p>" in english and "<b>Submit</b>" in english
    assert "<u>May</u>" in english and "<q>VISITORS</q>" in english
    chinese = rendered["zh-hans"]
    assert "<p>Visitors</p>" not in chinese and "<b>Submit</b>" not in chinese
    assert re.search(r"<p>[^<]*</p>", chinese)
    with translation.override("zh-hans"):
        assert f"<p>{translation.gettext('Visitors')}</p>" in chinese
        assert f"<s>{translation.gettext('Cancel')}</s>" in chinese


def test_the_pages_render_in_the_language_of_each_request(client, contact):
    client.force_login(contact)
    chinese = client.get("/accounts/visitors/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/accounts/visitors/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    again = client.get("/accounts/visitors/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    with translation.override("zh-hans"):
        assert translation.gettext("Visitors") in chinese
    assert "Visitors" in english and "Visitors" not in chinese
    assert "Visitors" not in again


def test_a_package_template_is_left_alone():
    with translation.override("en"):
        template = engines["django"].get_template("admin/base.html")
    assert template.template.nodelist.get_nodes_by_type(TranslateNode)
    assert not any(
        isinstance(node, TextNode) and node.s == "Django administration"
        for node in template.template.nodelist.get_nodes_by_type(TextNode)
    )


def test_the_portal_templates_have_no_language_blocks():
    """Tags inside ``{% language %}`` render in another language than the one the template was
    loaded in: the loader leaves them alone, but none should be written."""
    base = Path(settings.BASE_DIR)
    found = [
        str(path.relative_to(base))
        for path in base.rglob("*.html")
        if ".venv" not in path.parts and "{% language" in path.read_text(encoding="utf-8")
    ]
    assert found == []
