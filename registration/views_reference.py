"""Public JSON look-ups behind the division and industry pickers of the registration forms.

The answers depend only on the reference data shipped with the code and on the language, so they
are public and may be cached for a day by browsers and proxies. Names come in the active
language; ``?lang=en`` or ``?lang=zh-hans`` chooses it in the URL itself (the pickers send the
page's language), so that a cached answer in one language is never served for the other.
"""

import functools

from django.conf import settings
from django.http import Http404, JsonResponse
from django.utils import translation
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_cookie

from . import reference

SEARCH_LIMIT = 20
# A longer query cannot match anything better; it only costs time.
MAX_QUERY_LENGTH = 50
LANGUAGES = {code for code, _name in settings.LANGUAGES}


def _json(data) -> JsonResponse:
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


def _in_language(view):
    """Answers in the language of ``?lang=`` when it is one of the portal's, else in the active
    one (which may come from the language cookie: hence ``Vary: Cookie``)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        language = request.GET.get("lang", "")
        if language not in LANGUAGES:
            return view(request, *args, **kwargs)
        with translation.override(language):
            return view(request, *args, **kwargs)

    return vary_on_cookie(wrapped)


@require_GET
@cache_control(max_age=86400, public=True)
@_in_language
def division_children(request, code):
    """``{"children": [{"code", "name"}]}``: the cities of a province or the districts of a city
    (functional zones left out). A known code without children gives ``[]``; an unknown code is
    a 404."""
    if not reference.division_name(code):
        raise Http404("Unknown division code.")
    return _json({"children": [{"code": c, "name": name} for c, name in reference.children(code)]})


@require_GET
@cache_control(max_age=86400, public=True)
@_in_language
def division_search(request):
    """``{"results": [{"code", "name", "label", "province", "city", "district"}]}``: at most 20
    provinces, cities and districts found by ``?q=`` in Chinese, pinyin, pinyin initials or
    English (``gz``, ``guangzhou`` or ``Guangzhou`` → 广州市), with the codes to put in the
    three pickers; an empty query gives ``[]``."""
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH]
    return _json({"results": reference.search_divisions(query, limit=SEARCH_LIMIT)})


@require_GET
@cache_control(max_age=86400, public=True)
@_in_language
def industry_search(request):
    """``{"results": [{"code", "label"}]}``: at most 20 GB/T 4754-2017 classes matching ``?q=``
    (code prefix or any part of the names on the class's path, in Chinese, pinyin, pinyin
    initials or English); an empty query gives ``[]``."""
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH]
    results = reference.search_industries(query, limit=SEARCH_LIMIT)
    return _json({"results": [{"code": item["code"], "label": item["label"]} for item in results]})
