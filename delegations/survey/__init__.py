"""采购商满意度调查: the buyer satisfaction survey the organiser opens to the units after the expo.

- ``models.py``: a survey per edition (title and intro in Chinese and English), its questions in
  order (single choice, multiple choice, rating 1–5, free text), each unit's one response (a
  draft, then submitted) and its answers; the state maps of surveys and responses.
- ``services.py``: every write — opening and closing (audited), saving a draft, submitting.
- ``selectors.py``: the open survey of an edition (kept in the shared cache), the dashboard's
  panel, a unit's response.
- ``results.py``: counts, percentages and means per question, the bars of the charts, the
  .xlsx export; scoped to a delegation for secretaries.
- ``admin.py`` (organisers write, open and close; results for organisers and secretaries),
  ``views.py`` / ``urls.py`` / ``forms.py`` (the unit's pages), ``cloning.py`` (a new edition
  starts from the last one's surveys, as drafts).

The tables belong to the ``delegations`` app (``DelegationsConfig.import_models``).
"""
