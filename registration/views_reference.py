"""Public JSON look-ups behind the division and industry pickers of the registration forms.

Both answers depend only on the reference data shipped with the code, so they are public and
may be cached for a day by browsers and proxies.
"""

from django.http import Http404, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from . import reference

SEARCH_LIMIT = 20
# A longer query cannot match anything better; it only costs time.
MAX_QUERY_LENGTH = 50


def _json(data) -> JsonResponse:
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


@require_GET
@cache_control(max_age=86400, public=True)
def division_children(request, code):
    """``{"children": [{"code", "name"}]}``: the cities of a province or the districts of a city
    (functional zones left out). A known code without children gives ``[]``; an unknown code is
    a 404."""
    if not reference.division_name(code):
        raise Http404("Unknown division code.")
    return _json({"children": [{"code": c, "name": name} for c, name in reference.children(code)]})


@require_GET
@cache_control(max_age=86400, public=True)
def industry_search(request):
    """``{"results": [{"code", "label"}]}``: at most 20 GB/T 4754-2017 classes matching ``?q=``
    (code prefix or any part of the names on the class's path); an empty query gives ``[]``."""
    query = request.GET.get("q", "")[:MAX_QUERY_LENGTH]
    results = reference.search_industries(query, limit=SEARCH_LIMIT)
    return _json({"results": [{"code": item["code"], "label": item["label"]} for item in results]})
