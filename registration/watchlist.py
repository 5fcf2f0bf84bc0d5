"""关注名单 (the watchlist): people security wants to hear about, across editions.

An entry names a person by the blind index of their ID number (``ciie_portal.crypto``: the
number itself is never stored) or by name and date of birth, with a reason and an optional
expiry. It belongs to no edition: a person on it is found whenever a visitor with their ID
number, or with their name and date of birth, is saved in any edition — by the unit's form,
a colleague joining, bulk registration, returning visitors brought forward, the import of an
earlier edition — and when an entry is added, among the current edition's visitors.

A match is a :class:`WatchlistMatch` row (once per entry and visitor): the mark the reviewer
sees in the admin, and one email notice to each member of security (the staff who hold
``registration.view_watchlistmatch``), sent after the commit. The notice names the visitor,
the edition and the reason, never the ID number. The unit is never told: nothing the unit sees
(pages, messages, notices) depends on a match.
"""

import hashlib
import unicodedata
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal import crypto
from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.notices.services import notice_send
from ciie_portal.read_cache import kept

from .models import User, Visitor, WatchlistEntry, WatchlistMatch

__all__ = ["beijing_today", "in_force", "security_recipients", "watchlist_add", "watchlist_match"]

BEIJING = ZoneInfo("Asia/Shanghai")
#: Who the audit log names for matches (they happen while somebody else saves a visitor).
ACTOR = "watchlist"
SECURITY_PERMISSION = ("registration", "view_watchlistmatch")


#: The ``read_cache`` topic of what a visitor's save checks first: the active entries' blind
#: indexes and dates of birth (never a name), read anew when an entry changes.
CACHE_TOPIC = "watchlist"


def beijing_today() -> date:
    return timezone.localdate(timezone=BEIJING)


def name_key(name: str) -> str:
    """A name as compared: full-width forms folded (NFKC), without any space ("李 明" is
    "李明"), case ignored. A match by name asks security to check that it is the person."""
    return "".join(unicodedata.normalize("NFKC", name or "").split()).casefold()


def in_force(today: date | None = None) -> QuerySet:
    """The entries matched today: active and not expired (expiry in Beijing time)."""
    today = today or beijing_today()
    return WatchlistEntry.objects.filter(is_active=True).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=today)
    )


def watchlist_add(
    *,
    id_number: str = "",
    name: str = "",
    birth_date: date | None = None,
    reason: str,
    expires_on: date | None = None,
    actor,
) -> WatchlistEntry:
    """Put a person on the watchlist, by ID number or by name and date of birth, and match
    them at once against the current edition's visitors."""
    number = crypto.normalize_id(id_number)
    name = " ".join((name or "").split())
    reason = " ".join((reason or "").split())
    errors = {}
    if not number and not (name and birth_date):
        errors["__all__"] = _("Give an ID number, or a name with a date of birth.")
    if not reason:
        errors["reason"] = _("Give the reason.")
    if expires_on is not None and expires_on < beijing_today():
        errors["expires_on"] = _("This day has already passed.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        entry = WatchlistEntry.objects.create(
            id_number_index=crypto.blind_index(number) if number else "",
            name=name,
            birth_date=birth_date,
            reason=reason,
            expires_on=expires_on,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        audit_record(
            actor=actor,
            obj=entry,
            action="watchlist.add",
            reason=reason,
            data={
                "by_id_number": bool(number),
                "by_name": bool(name and birth_date),
                "expires_on": expires_on.isoformat() if expires_on else None,
            },
        )
        watchlist_match(
            Visitor.objects.filter(edition__is_current=True),
            entries=WatchlistEntry.objects.filter(pk=entry.pk),
        )
    return entry


def _active_keys() -> list[tuple[str, date | None, date | None]]:
    """Each active entry's (blind index, date of birth when it names a person, expiry)."""
    return kept(
        CACHE_TOPIC,
        "active-keys",
        lambda: [
            (index, born if name else None, expires)
            for index, name, born, expires in WatchlistEntry.objects.filter(
                is_active=True
            ).values_list("id_number_index", "name", "birth_date", "expires_on")
        ],
    )


def _may_match(visitors: list[Visitor]) -> list[Visitor]:
    """The visitors an entry in force may match by ID number or date of birth (names are
    compared in the database's rows by ``watchlist_match``): most saves ask it nothing."""
    today = beijing_today()
    keys = [
        (index, born) for index, born, expires in _active_keys() if not expires or expires >= today
    ]
    if not keys:
        return []
    indexes = {index for index, _born in keys if index}
    births = {born for _index, born in keys if born}
    return [v for v in visitors if v.id_number_index in indexes or v.birth_date in births]


def watchlist_match(visitors, *, entries: QuerySet | None = None) -> int:
    """Match ``visitors`` (a queryset, or visitor objects) against the watchlist entries in
    force (or ``entries``); record the new matches and tell security. Returns how many
    matches are new.

    A few queries however many visitors: the candidates (by ID index or date of birth), the
    entries concerned, the matches already recorded, one INSERT."""
    if not isinstance(visitors, QuerySet):
        if entries is None:
            visitors = _may_match(list(visitors))
            if not visitors:
                return 0
        visitors = Visitor.objects.filter(pk__in=[v.pk for v in visitors])
    entries = in_force() if entries is None else entries.filter(pk__in=in_force().values("pk"))
    by_number = entries.exclude(id_number_index="").values("id_number_index")
    by_name = entries.exclude(name="").filter(birth_date__isnull=False).values("birth_date")
    candidates = list(
        visitors.order_by()
        .filter(Q(id_number_index__in=by_number) | Q(birth_date__in=by_name))
        .values_list("pk", "id_number_index", "name", "birth_date")
    )
    if not candidates:
        return 0
    indexes = {index for _pk, index, _name, _born in candidates if index}
    births = {born for _pk, _index, _name, born in candidates if born}
    concerned = list(
        entries.filter(
            Q(id_number_index__in=indexes, id_number_index__gt="")
            | Q(birth_date__in=births, name__gt="")
        ).only("pk", "id_number_index", "name", "birth_date")
    )
    found: dict[tuple[int, int], str] = {}
    for entry in concerned:
        key = name_key(entry.name)
        for pk, index, name, born in candidates:
            if entry.id_number_index and entry.id_number_index == index:
                found[(entry.pk, pk)] = WatchlistMatch.On.ID_NUMBER
            elif key and entry.birth_date == born and name_key(name) == key:
                found.setdefault((entry.pk, pk), WatchlistMatch.On.NAME_BIRTH_DATE)
    if not found:
        return 0
    known = set(
        WatchlistMatch.objects.filter(
            entry_id__in={e for e, _v in found}, visitor_id__in={v for _e, v in found}
        ).values_list("entry_id", "visitor_id")
    )
    new = {pair: on for pair, on in found.items() if pair not in known}
    if not new:
        return 0
    WatchlistMatch.objects.bulk_create(
        [WatchlistMatch(entry_id=e, visitor_id=v, matched_on=on) for (e, v), on in new.items()],
        ignore_conflicts=True,  # a concurrent save recorded it first: the same mark
    )
    recorded = [
        match
        for match in WatchlistMatch.objects.filter(
            entry_id__in={e for e, _v in new}, visitor_id__in={v for _e, v in new}
        ).select_related("entry", "visitor__edition", "visitor__unit")
        if (match.entry_id, match.visitor_id) in new
    ]
    audit_record_bulk(actor=ACTOR, objects=recorded, action="watchlist.match")
    _tell_security(recorded)
    return len(new)


def security_recipients() -> list[User]:
    """The active staff who hold ``registration.view_watchlistmatch`` (by a group or their
    own), with an email address."""
    app_label, codename = SECURITY_PERMISSION
    return list(
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(
                groups__permissions__codename=codename,
                groups__permissions__content_type__app_label=app_label,
            )
            | Q(
                user_permissions__codename=codename,
                user_permissions__content_type__app_label=app_label,
            )
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def _tell_security(matches: list[WatchlistMatch]) -> None:
    """One email per match and member of security (never the unit), after the commit. The
    key makes it once, however often the visitor is saved again."""
    recipients = security_recipients()
    for match in matches:
        visitor = match.visitor
        params = {
            "name": visitor.name,
            "reference": visitor.reference,
            "edition": visitor.edition.name,
            "unit": visitor.unit.name,
            "reason": match.entry.reason,
            "matched_on": match.matched_on,
        }
        for user in recipients:
            digest = hashlib.sha256(user.email.lower().encode()).hexdigest()[:16]
            notice_send(
                key=f"watchlist-match:{match.entry_id}:{match.visitor_id}:{digest}",
                event="watchlist_match",
                channel="email",
                recipient=user.email,
                template="watchlist_match",
                params=params,
                language=settings.LANGUAGE_CODE,
            )
