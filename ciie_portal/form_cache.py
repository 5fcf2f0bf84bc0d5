"""Rendered empty forms, kept per process: crispy-forms renders every field through several
templates, and a select of 250 countries costs more than the rest of a page. An unbound form
(the page as first shown) renders the same HTML for the same fields, language and choices, so
that HTML is kept under a key made of exactly those, and a form whose choices or initial values
differ (another unit's addresses, a new entry period, English) gets a key of its own.

Bound forms (with what the user typed, and its errors) are never kept. Nothing outlives its
inputs: the key is made of everything the HTML is rendered from, so nothing needs invalidating;
the store is bounded (least recently used out first).
"""

import hashlib
import threading
from collections import OrderedDict

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import ModelChoiceIterator
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

#: Rendered forms and fields kept per process; a few person types × languages × units'
#: address lists in use at once.
MAX_ENTRIES = 512

_store: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def _choices(choices) -> list:
    """Choices as text, optgroups included (a ModelChoiceField reads its queryset here)."""
    out = []
    for value, label in choices:
        if isinstance(label, (list, tuple)):
            out.append((str(value), _choices(label)))
        else:
            out.append((str(value), str(label)))
    return out


def _choices_signature(field):
    """The field's choices as text, or what they are made of when the field can say
    (``choices_signature()``: the countries of ``ciie_portal.countries``, by language)."""
    if not hasattr(field, "choices"):
        return ""
    signature = getattr(field, "choices_signature", None)
    made_of = signature() if signature is not None else None
    return repr(made_of if made_of is not None else _choices(field.choices))


def _field_signature(bound) -> tuple:
    field, widget = bound.field, bound.field.widget
    return (
        bound.html_name,
        bound.auto_id,
        str(bound.label),
        str(field.help_text),
        field.required,
        field.disabled,
        field.show_hidden_initial,
        f"{type(widget).__module__}.{type(widget).__qualname__}",
        repr(sorted((str(k), str(v)) for k, v in widget.attrs.items())),
        repr(bound.value()),
        _choices_signature(field),
        getattr(bound.form, "label_suffix", None),
        bound.form.use_required_attribute,
    )


def _key(kind: str, form, fields) -> str:
    signature = repr(
        (
            kind,
            f"{type(form).__module__}.{type(form).__qualname__}",
            form.prefix,
            get_language(),
            [_field_signature(bound) for bound in fields],
        )
    )
    return hashlib.blake2b(signature.encode(), digest_size=20).hexdigest()


def rendered(kind: str, form, fields, render) -> str:
    """``render()`` of an unbound ``form`` (its ``fields``: BoundFields), kept per process;
    a bound form is rendered every time."""
    if form.is_bound:
        return render()
    key = _key(kind, form, fields)
    with _lock:
        html = _store.get(key)
        if html is not None:
            _store.move_to_end(key)
            return mark_safe(html)  # noqa: S308 - crispy's own output, kept as it was
    html = render()
    with _lock:
        _store[key] = html
        while len(_store) > MAX_ENTRIES:
            _store.popitem(last=False)
    return html


def clear() -> None:
    with _lock:
        _store.clear()


class _KnownObjects(ModelChoiceIterator):
    """The choices of a ModelChoiceField from objects already in hand (``model_choices``),
    labelled when rendered; its queryset read as usual once another one is set."""

    objects: list = []
    queryset_given = None

    def _known(self) -> bool:
        return self.field.queryset is self.queryset_given

    def __iter__(self):
        if not self._known():
            yield from super().__iter__()
            return
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.objects:
            yield self.choice(obj)

    def __len__(self):
        if not self._known():
            return super().__len__()
        return len(self.objects) + (self.field.empty_label is not None)

    def __bool__(self):
        return self.field.empty_label is not None or bool(
            self.objects if self._known() else super().__bool__()
        )


def model_choices(field, objects) -> None:
    """A ModelChoiceField's choices from ``objects`` already in hand (kept in the shared cache,
    or read in one plain query) instead of the field reading its queryset again — through a
    server-side cursor on PostgreSQL — for the key and again for the HTML. The queryset still
    validates what is posted (a ``KnownModelChoiceField`` finds it among the objects instead);
    setting another queryset later brings its own choices back."""
    field.iterator = type(
        "KnownObjects",
        (_KnownObjects,),
        {"objects": list(objects), "queryset_given": field.queryset},
    )
    field.widget.choices = field.choices


class KnownModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField that, once ``model_choices`` gave it its objects, takes a posted value
    only from among them, with no query: they are its queryset's rows, already in hand (an
    edition's entry periods, kept in the shared cache and read anew when one changes). Without
    them, or after another queryset was set, it reads its queryset as usual."""

    def to_python(self, value):
        iterator = self.iterator
        if (
            value in self.empty_values
            or not issubclass(iterator, _KnownObjects)
            or self.queryset is not iterator.queryset_given
        ):
            return super().to_python(value)
        self.validate_no_null_characters(value)
        key = self.to_field_name or "pk"
        if isinstance(value, self.queryset.model):
            value = getattr(value, key)
        for obj in iterator.objects:
            if str(getattr(obj, key)) == str(value):
                return obj
        raise ValidationError(
            self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
        )

    def from_known_objects(self) -> bool:
        """Whether a posted value was (or will be) taken from the objects in hand."""
        iterator = self.iterator
        return issubclass(iterator, _KnownObjects) and self.queryset is iterator.queryset_given
