"""The next edition set up from an earlier one (复制为新一届): its dates shifted by an offset, its
settings, entry periods and fees, side events and privacy policy copied — and, through the
registry below, every higher app's per-edition configuration (quotas, codes, entry rules).

Nothing personal is ever copied: no units, visitors, accounts, orders, payments, invoices,
credentials or consents. The new edition is not made current (``edition_make_current`` does
that, as an organiser's separate decision).

The preview runs the very same code in a transaction that is then rolled back
(``edition_clone_preview``), so that what the organiser confirms is what gets created.

Each app that holds configuration per edition registers a :class:`Cloner` from its
``AppConfig.ready()`` (this module may not import them). A cloner names the models it copies;
tests/ciie_portal/test_edition_clone.py holds every model with a foreign key to Edition to a
decision (copied by a cloner, or not copied and why).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .audit import audit_record
from .models import Edition, EntryPeriod, PrivacyPolicy, SideEvent
from .privacy import policy_in_force
from .timefmt import local_text

#: 52 weeks: the same weekday a year later (the expo opens on the same day of the week).
DEFAULT_OFFSET_DAYS = 364
MAX_OFFSET_DAYS = 3660

#: Edition fields that are the edition's identity or its state, never copied. Every other
#: stored field is copied — dates and times shifted by the offset — so that a setting added to
#: Edition later is carried over without anyone remembering to add it here.
EDITION_NOT_COPIED = frozenset(
    {"id", "number", "name", "name_en", "is_current", "shredded_at", "created_at", "updated_at"}
)


@dataclass
class CloneContext:
    """What a cloner is given: the source edition, the new one (saved), the offset."""

    source: Edition
    target: Edition
    offset: timedelta
    actor: object

    def shift(self, value):
        """A date or datetime moved by the offset (None stays None; other values unchanged)."""
        if isinstance(value, (date, datetime)):
            return value + self.offset
        return value


@dataclass(frozen=True)
class Cloner:
    """One app's part of an edition's configuration."""

    name: str  # e.g. "delegations.quotas"
    label: str  # what an organiser reads in the preview
    models: tuple[str, ...]  # the models (app_label.Model) it copies
    # Creates the target edition's rows; returns one line per row for the preview.
    copy: Callable[[CloneContext], list[str]]


_cloners: list[Cloner] = []


def register_cloner(cloner: Cloner) -> Cloner:
    """Register (once, however often ``ready()`` runs), in the order of the apps."""
    if all(existing.name != cloner.name for existing in _cloners):
        _cloners.append(cloner)
    return cloner


def cloners() -> list[Cloner]:
    return list(_cloners)


@dataclass
class ClonePart:
    name: str
    label: str
    lines: list[str]

    @property
    def count(self) -> int:
        return len(self.lines)


@dataclass
class CloneResult:
    """What a clone creates (or, for a preview, would create)."""

    source: Edition
    offset_days: int
    number: int
    name: str
    name_en: str
    fields: list[tuple[str, str, str]]  # (label, value in the source, value in the new edition)
    parts: list[ClonePart] = field(default_factory=list)
    edition: Edition | None = None  # None for a preview

    @property
    def counts(self) -> dict[str, int]:
        return {part.name: part.count for part in self.parts}


# --- The edition itself --------------------------------------------------------------------


def edition_copied_fields() -> list[models.Field]:
    """The Edition fields a clone copies (every stored field but identity and state)."""
    return [
        f
        for f in Edition._meta.concrete_fields
        if not f.primary_key
        and f.name not in EDITION_NOT_COPIED
        and not getattr(f, "auto_now", False)
        and not getattr(f, "auto_now_add", False)
    ]


def _shift(value, offset: timedelta):
    if isinstance(value, (date, datetime)):
        return value + offset
    return copy.deepcopy(value)  # JSON lists must not be shared between the two editions


def _field_text(f: models.Field, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, datetime):
        return local_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- What ciie_portal itself copies ----------------------------------------------------------


def _copy_entry_periods(ctx: CloneContext) -> list[str]:
    periods = list(EntryPeriod.objects.filter(edition=ctx.source).order_by("position", "first_day"))
    EntryPeriod.objects.bulk_create(
        EntryPeriod(
            edition=ctx.target,
            name=p.name,
            name_en=p.name_en,
            first_day=ctx.shift(p.first_day),
            last_day=ctx.shift(p.last_day),
            fee=p.fee,
            position=p.position,
        )
        for p in periods
    )
    return [
        f"{p.name}: {ctx.shift(p.first_day).isoformat()} – {ctx.shift(p.last_day).isoformat()}, "
        + gettext("CNY %(fee)s") % {"fee": p.fee}
        for p in periods
    ]


def _copy_side_events(ctx: CloneContext) -> list[str]:
    # Copied as drafts: not listed to visitors until the organiser has checked them. The
    # contact is a person's, likely another one next year: left empty.
    events = list(SideEvent.objects.filter(edition=ctx.source).order_by("starts_at", "pk"))
    SideEvent.objects.bulk_create(
        SideEvent(
            edition=ctx.target,
            name=e.name,
            name_en=e.name_en,
            starts_at=ctx.shift(e.starts_at),
            ends_at=ctx.shift(e.ends_at),
            venue=e.venue,
            organiser=e.organiser,
            contact="",
            description=e.description,
            open_to_visitors=False,
            # Its sign-up settings, the window moved too (the sign-ups themselves are not
            # copied: they are the units').
            capacity=e.capacity,
            signup_opens_at=ctx.shift(e.signup_opens_at),
            signup_closes_at=ctx.shift(e.signup_closes_at),
            labels=e.labels,
            signup_requires=e.signup_requires,
            needs_approval=e.needs_approval,
        )
        for e in events
    )
    draft = gettext("not open to visitors yet")
    return [f"{e.name}: {local_text(ctx.shift(e.starts_at))} ({draft})" for e in events]


def _copy_privacy_policy(ctx: CloneContext) -> list[str]:
    # The text in force (or, with none published, the latest draft) becomes version 1 of the
    # new edition, a draft: published by the organiser, accepted again by every unit.
    policy = policy_in_force(ctx.source) or (
        PrivacyPolicy.objects.filter(edition=ctx.source).order_by("-version").first()
    )
    if policy is None:
        return []
    PrivacyPolicy.objects.create(
        edition=ctx.target, version=1, text_zh=policy.text_zh, text_en=policy.text_en
    )
    return [
        gettext("Version %(old)s of %(source)s as draft version 1")
        % {"old": policy.version, "source": ctx.source}
    ]


register_cloner(
    Cloner(
        name="ciie_portal.entry_periods",
        label=_("Entry periods and their fees"),
        models=("ciie_portal.EntryPeriod",),
        copy=_copy_entry_periods,
    )
)
register_cloner(
    Cloner(
        name="ciie_portal.side_events",
        label=_("Side events (as drafts, not open to visitors)"),
        models=("ciie_portal.SideEvent",),
        copy=_copy_side_events,
    )
)
register_cloner(
    Cloner(
        name="ciie_portal.privacy_policy",
        label=_("Privacy policy (an unpublished draft)"),
        models=("ciie_portal.PrivacyPolicy",),
        copy=_copy_privacy_policy,
    )
)


# --- The service ---------------------------------------------------------------------------


class _Rollback(Exception):
    def __init__(self, result: CloneResult):
        self.result = result


def _validate(*, number: int, name: str, offset: int) -> None:
    errors = {}
    if not number or number < 1:
        errors["number"] = _("Enter the new edition's number.")
    elif Edition.objects.filter(number=number).exists():
        errors["number"] = _("Edition %(number)s exists already.") % {"number": number}
    if not (name or "").strip():
        errors["name"] = _("Enter the new edition's name.")
    if abs(offset) > MAX_OFFSET_DAYS:
        errors["offset"] = _("The offset may be at most %(days)s days.") % {"days": MAX_OFFSET_DAYS}
    if errors:
        raise ValidationError(errors)


def _clone(*, source, number, name, name_en, offset, actor) -> CloneResult:
    _validate(number=number, name=name, offset=offset)
    delta = timedelta(days=offset)
    target = Edition(number=number, name=name.strip(), name_en=(name_en or "").strip())
    rows = []
    for f in edition_copied_fields():
        old = getattr(source, f.attname)
        new = _shift(old, delta)
        setattr(target, f.attname, new)
        rows.append((str(f.verbose_name), _field_text(f, old), _field_text(f, new)))
    target.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            target.save(force_insert=True)
    except IntegrityError:
        # Another request (a second click) created this number a moment ago.
        raise ValidationError(
            {"number": _("Edition %(number)s exists already.") % {"number": number}}
        ) from None
    ctx = CloneContext(source=source, target=target, offset=delta, actor=actor)
    parts = [ClonePart(name=c.name, label=str(c.label), lines=list(c.copy(ctx))) for c in _cloners]
    result = CloneResult(
        source=source,
        offset_days=offset,
        number=number,
        name=target.name,
        name_en=target.name_en,
        fields=rows,
        parts=parts,
        edition=target,
    )
    audit_record(
        actor=actor,
        obj=target,
        action="edition.cloned",
        reason=f"{source} +{offset}",
        data={
            "source": source.pk,
            "source_number": source.number,
            "offset_days": offset,
            "counts": result.counts,
        },
    )
    return result


def edition_clone(
    *, source: Edition, number: int, name: str, name_en: str = "", offset: int, actor
) -> CloneResult:
    """Create edition ``number`` from ``source``: every setting copied, dates and times moved
    by ``offset`` days, each registered app's configuration copied; one transaction, one audit
    entry on the new edition (source, offset, counts). Raises ValidationError (by field:
    ``number``, ``name``, ``offset``) — a number that exists already, also when a second
    click got there first. The new edition is not made current."""
    with transaction.atomic():
        # Two clones at once wait for each other: the second then finds the number taken.
        Edition.objects.select_for_update().filter(pk=source.pk).first()
        return _clone(
            source=source, number=number, name=name, name_en=name_en, offset=offset, actor=actor
        )


def edition_clone_preview(
    *, source: Edition, number: int, name: str, name_en: str = "", offset: int, actor
) -> CloneResult:
    """What ``edition_clone`` would create: the same code, rolled back. Raises the same
    ValidationError."""
    try:
        with transaction.atomic():
            result = _clone(
                source=source,
                number=number,
                name=name,
                name_en=name_en,
                offset=offset,
                actor=actor,
            )
            raise _Rollback(result)
    except _Rollback as rollback:
        result = rollback.result
    result.edition = None
    return result
