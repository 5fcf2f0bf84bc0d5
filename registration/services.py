import secrets
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.inserts import insert_new
from ciie_portal.models import PrivacyPolicy
from ciie_portal.notices.services import notice_send_both
from ciie_portal.windows import registration_window_check

from .consent import consent_record
from .models import (
    UNIT_STATES,
    VISITOR_STATES,
    ConsentBy,
    DeliveryAddress,
    Pickup,
    Unit,
    UnitDraft,
    User,
    Visitor,
)
from .validators import validate_id_number
from .watchlist import watchlist_match


def address_create(
    *,
    unit: Unit,
    actor,
    recipient: str,
    mobile: str,
    address: str,
    postcode: str,
    province: str = "",
    city: str = "",
    district: str = "",
    is_default: bool = False,
) -> DeliveryAddress:
    """Add a delivery address: at most five per unit; the first one is the default."""
    with transaction.atomic():
        # Lock the unit so that two tabs adding a fifth address at once cannot make six.
        Unit.objects.select_for_update().get(pk=unit.pk)
        existing = DeliveryAddress.objects.filter(unit=unit).count()
        if existing >= DeliveryAddress.MAX_PER_UNIT:
            raise ValidationError(
                _("A unit can keep at most %(max)d delivery addresses. Delete one first.")
                % {"max": DeliveryAddress.MAX_PER_UNIT}
            )
        make_default = is_default or existing == 0
        if make_default:
            DeliveryAddress.objects.filter(unit=unit, is_default=True).update(is_default=False)
        created = DeliveryAddress.objects.create(
            unit=unit,
            recipient=recipient,
            mobile=mobile,
            address=address,
            postcode=postcode,
            province=province,
            city=city,
            district=district,
            is_default=make_default,
        )
        audit_record(actor=actor, obj=created, action="address.create")
    return created


def _lock_address(address: DeliveryAddress) -> DeliveryAddress:
    """Lock the unit, then re-read the address: another tab may have changed or deleted it."""
    Unit.objects.select_for_update().get(pk=address.unit_id)
    try:
        return DeliveryAddress.objects.get(pk=address.pk, unit_id=address.unit_id)
    except DeliveryAddress.DoesNotExist:
        raise ValidationError(_("This address no longer exists.")) from None


def address_set_default(*, address: DeliveryAddress, actor) -> DeliveryAddress:
    with transaction.atomic():
        address = _lock_address(address)
        DeliveryAddress.objects.filter(unit_id=address.unit_id, is_default=True).exclude(
            pk=address.pk
        ).update(is_default=False)
        DeliveryAddress.objects.filter(pk=address.pk).update(is_default=True)
        address.is_default = True
        audit_record(actor=actor, obj=address, action="address.set_default")
    return address


# ``address`` is the DeliveryAddress, as in address_set_default/address_delete, so the street
# line, which address_create takes as ``address=``, comes in here as ``street=``.
UPDATE_FIELDS = {
    "recipient": "recipient",
    "mobile": "mobile",
    "province": "province",
    "city": "city",
    "district": "district",
    "street": "address",
    "postcode": "postcode",
}


def address_update(
    *, address: DeliveryAddress, actor, is_default: bool = False, **fields
) -> DeliveryAddress:
    """Change an address. ``fields`` are any of UPDATE_FIELDS (``street`` is the street line).

    ``is_default=True`` makes it the unit's default. ``False`` never takes the default away:
    a unit with addresses always has exactly one default, which changes only when another
    address becomes the default (or the default is deleted).
    """
    unknown = set(fields) - set(UPDATE_FIELDS)
    if unknown:
        raise TypeError(f"address_update() got unexpected fields: {sorted(unknown)}")
    with transaction.atomic():
        # Lock the unit, then re-read the address: another tab may have changed or deleted it.
        address = _lock_address(address)
        values = {UPDATE_FIELDS[key]: value for key, value in fields.items()}
        changed = [name for name, value in values.items() if getattr(address, name) != value]
        for name in changed:
            setattr(address, name, values[name])
        if changed:
            address.save(update_fields=changed)
        if is_default and not address.is_default:
            # Clear the old default first: the one-default constraint is checked per statement.
            DeliveryAddress.objects.filter(unit_id=address.unit_id, is_default=True).update(
                is_default=False
            )
            DeliveryAddress.objects.filter(pk=address.pk).update(is_default=True)
            address.is_default = True
            changed.append("is_default")
        # Only the names of the changed fields: the values are personal data.
        audit_record(actor=actor, obj=address, action="address.update", data={"fields": changed})
    return address


def address_delete(*, address: DeliveryAddress, actor) -> None:
    """Delete an address; if it was the default, the oldest remaining one becomes default."""
    with transaction.atomic():
        address = _lock_address(address)
        audit_record(actor=actor, obj=address, action="address.delete")
        was_default = address.is_default
        address.delete()
        if was_default:
            successor = (
                DeliveryAddress.objects.filter(unit_id=address.unit_id)
                .order_by("created_at", "pk")
                .first()
            )
            if successor:
                DeliveryAddress.objects.filter(pk=successor.pk).update(is_default=True)


VISITOR_FIELDS = [
    "person_type", "name", "sex", "birth_date", "nationality", "surname_en", "given_name_en",
    "permit_name", "job_category", "position", "mobile", "email", "entry_period", "pickup",
    "address",
]  # fmt: skip


def _duplicate_id_error() -> ValidationError:
    # Never say which unit holds it: that would leak another unit's visitor.
    return ValidationError({"id_number": _("This ID number is already registered for this expo.")})


def visitor_save(
    *,
    unit: Unit,
    actor,
    values: dict,
    id_type: str,
    id_number: str,
    visitor: Visitor | None = None,
    photo=None,
    submit: bool = False,
    sensitive_consent: str = "",
) -> Visitor:
    """Add or change a visitor of ``unit``; with ``submit`` it is also submitted (locked).

    ``sensitive_consent`` (a ``ConsentBy``: the contact, or the colleague joining by link)
    records the visitor's separate consent to processing the ID document and face photo (PIPL
    art. 29; kept from the first time it is given). No visitor is submitted without it.

    One ID number is one visitor per edition, across all units. Only saved (已保存) visitors
    can change. Adding and submitting keep to the registration window (``ciie_portal.windows``;
    staff are not bound). An individual registration (个人) has exactly one visitor. A change of
    the card data of a visitor who chose 证件复用 clears that choice at once (``reuse_applies``).
    """
    if visitor is None or submit:
        registration_window_check(edition=unit.edition, actor=actor)
    validate_id_number(id_type, id_number)
    with transaction.atomic():
        if visitor is None:
            _refuse_second_individual(unit)
            visitor = Visitor(
                edition_id=unit.edition_id,
                unit=unit,
                paid_by_delegation=unit.paid_by_delegation,  # 交易团代付 is inherited
            )
            action = "visitor.create"
        else:
            visitor = Visitor.objects.select_for_update().get(pk=visitor.pk, unit=unit)
            if visitor.status != Visitor.Status.SAVED:
                raise ValidationError(_("This visitor was submitted and can no longer be changed."))
            action = "visitor.update"
        for field in VISITOR_FIELDS:
            if field in values:
                setattr(visitor, field, values[field])
        index_before = visitor.id_number_index
        visitor.id_type = id_type
        visitor.id_number = id_number
        if photo is not None:
            visitor.photo = photo
        # Compared with the previous edition's card, not with the form: saving the same data
        # again keeps the choice; entry days not chosen yet are no change. Another ID number
        # is another person: their card is never last edition's.
        reuse_cleared = card_differences(visitor) if visitor.reuse_eligible else []
        if visitor.reuse_eligible and index_before and index_before != visitor.id_number_index:
            reuse_cleared.append("id_number")
        if reuse_cleared:
            visitor.reuse_eligible = False
        consent_given = bool(sensitive_consent) and visitor.sensitive_consent_at is None
        if consent_given:
            visitor.sensitive_consent_at = timezone.now()
            visitor.sensitive_consent_by = ConsentBy(sensitive_consent).value
        adding = visitor.pk is None
        if not adding and (
            Visitor.objects.filter(
                edition_id=unit.edition_id, id_number_index=visitor.id_number_index
            )
            .exclude(pk=visitor.pk)
            .exists()
        ):
            raise _duplicate_id_error()
        if submit:
            _check_complete([visitor])
            _check_sensitive_consent([visitor])
            visitor.pledged_at = timezone.now()
        try:
            if adding:
                # One statement: the database skips the row when the number is taken in this
                # edition — by a committed row, or by one another unit commits while this
                # waits for it — with no error to roll back.
                if not insert_new([visitor], key=["edition", "id_number_index"]):
                    raise _duplicate_id_error()
            else:
                visitor.save()
        except IntegrityError:
            # Two units entered the same number at the same moment; the constraint decided.
            # Nothing more runs in this transaction: the block above rolls it back (to its
            # savepoint when a caller's transaction holds it), so none of its own is needed.
            raise _duplicate_id_error() from None
        audit_record(actor=actor, obj=visitor, action=action, to_state=visitor.status)
        if consent_given:
            audit_record(
                actor=actor,
                obj=visitor,
                action="visitor.sensitive_consent",
                data={"by": str(visitor.sensitive_consent_by)},
            )
        watchlist_match([visitor])  # security is told; the unit never is
        if reuse_cleared:
            audit_record(
                actor=actor,
                obj=visitor,
                action="visitor.reuse_cleared",
                data={"fields": reuse_cleared},
            )
        if submit:
            reusing = reuse_applies(visitor)
            VISITOR_STATES.move(
                visitor,
                Visitor.Status.PENDING_LOCK if reusing else Visitor.Status.SUBMITTED,
                actor=actor,
                submitted_at=timezone.now(),
                **({"label": visitor.original_label} if reusing else {}),
            )
    return visitor


def _refuse_second_individual(unit: Unit) -> None:
    """个人注册: the registrant is the one visitor. The unit row is locked so that two tabs
    adding a visitor at once cannot make two."""
    if unit.kind != Unit.Kind.INDIVIDUAL:
        return
    Unit.objects.select_for_update().filter(pk=unit.pk).first()
    if Visitor.objects.filter(unit_id=unit.pk).exclude(status=Visitor.Status.CANCELLED).exists():
        raise ValidationError(
            _(
                "An individual registration registers only the registrant: you are already "
                "this registration's visitor. Colleagues register through a unit registration."
            ),
            code="individual_one_visitor",
        )


# --- 证件复用 (credential reuse) --------------------------------------------------------------
#
# A returning unit chooses per earlier visitor between reuse (the edition's reuse percentage
# of the fee) and a new credential (full fee). ``Visitor.reuse_eligible`` holds that choice: True
# only when reuse was chosen (the default, where possible, when the unit is brought forward).
# Reuse applies only while the card data equals last edition's; a service that changes any of
# it clears the choice at once (audited "visitor.reuse_cleared").

# Visitors whose reuse choice a card-data change still clears: not yet paid for or reviewed.
# Paid ones keep the record of what they paid.
REUSE_CLEARABLE = (
    Visitor.Status.SAVED,
    Visitor.Status.SUBMITTED,
    Visitor.Status.PENDING_LOCK,
    Visitor.Status.PENDING_PAYMENT,
)


def reuse_possible(visitor: Visitor) -> bool:
    """Whether 证件复用 can be offered: the visitor held last edition's credential (it had a
    label), that visitor passed its review, and no label upgrade asks for a new card."""
    old = visitor.previous
    return bool(
        old
        and visitor.original_label
        and old.status == Visitor.Status.REVIEW_PASSED
        and not visitor.needs_new_credential
    )


def _same_days(period, old_period) -> bool:
    # Editions are in different years: the same days are the same month and day.
    return bool(
        period
        and old_period
        and (period.first_day.strftime("%m%d"), period.last_day.strftime("%m%d"))
        == (old_period.first_day.strftime("%m%d"), old_period.last_day.strftime("%m%d"))
    )


def card_differences(visitor: Visitor) -> list[str]:
    """The card data in which ``visitor`` differs from last edition's visitor (field names).

    Entry days not chosen yet, and a label not given yet, are no difference.
    """
    old = visitor.previous
    if old is None:
        return []
    differences = []
    if visitor.name != old.name:
        differences.append("name")
    if (visitor.photo.name or "") != (old.photo.name or ""):
        differences.append("photo")
    if visitor.unit.name != old.unit.name:
        differences.append("unit_name")
    if visitor.unit.delegation_id != old.unit.delegation_id:
        differences.append("delegation")
    if visitor.label and visitor.label != visitor.original_label:
        differences.append("label")
    if visitor.entry_period_id and not _same_days(visitor.entry_period, old.entry_period):
        differences.append("entry_days")
    return differences


def reuse_applies(visitor: Visitor) -> bool:
    """证件复用: THE rule for whether last edition's credential is reused (and the reuse fee
    charged, ``credentials.orders.fees.credential_fee``).

    True only when reuse was chosen (``reuse_eligible``), the previous visitor passed its review
    and had a label, no label upgrade asks for a new card (``needs_new_credential``), the label
    is the original one (or not given yet: reuse then gives the original one), and name, unit
    name, delegation, photo and entry days equal last edition's. (A new ID number clears the
    choice in ``visitor_save``.)

    Costs no query when the visitor comes with ``select_related("unit", "entry_period",
    "previous__unit", "previous__entry_period")`` — do that when calling it for many visitors.
    """
    if not visitor.reuse_eligible or not reuse_possible(visitor):
        return False
    return bool(visitor.entry_period_id) and not card_differences(visitor)


def _reuse_clear_of_unit(*, unit: Unit, actor, fields: list[str]) -> int:
    """The unit's own card data changed (its name, its delegation): no visitor of it reuses."""
    cleared = list(
        Visitor.objects.select_for_update()
        .filter(unit_id=unit.pk, reuse_eligible=True, status__in=REUSE_CLEARABLE)
        .order_by("pk")
    )
    if not cleared:
        return 0
    Visitor.objects.filter(pk__in=[v.pk for v in cleared]).update(
        reuse_eligible=False, updated_at=timezone.now()
    )
    audit_record_bulk(
        actor=actor, objects=cleared, action="visitor.reuse_cleared", data={"fields": fields}
    )
    return len(cleared)


CARD_FIELD_LABELS = {
    "name": _lazy("name"),
    "id_number": _lazy("ID number"),
    "photo": _lazy("photo"),
    "unit_name": _lazy("unit name"),
    "delegation": _lazy("delegation"),
    "label": _lazy("label"),
    "entry_days": _lazy("entry days"),
}


def visitors_reuse_choose(*, unit: Unit, choices: dict, actor) -> int:
    """证件复用 or 重新申办, per earlier visitor: ``choices`` maps visitor ids of ``unit`` to
    True (reuse last edition's credential, reuse fee) or False (a new credential, full fee).

    Only saved (已保存) visitors choose; reuse only where it can be offered and the card data
    is still last edition's. Returns how many visitors changed their choice.
    """
    with transaction.atomic():
        visitors = list(
            Visitor.objects.select_for_update(of=("self",))
            .filter(unit_id=unit.pk, pk__in=list(choices), join_pending=False)
            .select_related("unit", "entry_period", "previous__unit", "previous__entry_period")
            .order_by("pk")
        )
        if len(visitors) != len(choices):
            raise ValidationError(_("Choose among your unit's visitors."))
        changed = {True: [], False: []}
        for visitor in visitors:
            reuse = bool(choices[visitor.pk])
            if reuse == visitor.reuse_eligible:
                continue
            if visitor.status != Visitor.Status.SAVED:
                raise ValidationError(
                    _("%(name)s was submitted: the choice can no longer change.")
                    % {"name": visitor.name}
                )
            if reuse and not reuse_possible(visitor):
                raise ValidationError(
                    _("%(name)s cannot reuse last edition's credential: apply anew.")
                    % {"name": visitor.name}
                )
            differences = card_differences(visitor) if reuse else []
            if differences:
                raise ValidationError(
                    _(
                        "%(name)s cannot reuse last edition's credential: the card data changed "
                        "since then (%(fields)s). A new credential is needed."
                    )
                    % {
                        "name": visitor.name,
                        "fields": ", ".join(str(CARD_FIELD_LABELS[f]) for f in differences),
                    }
                )
            changed[reuse].append(visitor)
        now = timezone.now()
        for reuse, group in changed.items():
            if not group:
                continue
            Visitor.objects.filter(pk__in=[v.pk for v in group]).update(
                reuse_eligible=reuse, updated_at=now
            )
            for visitor in group:
                visitor.reuse_eligible = reuse
            audit_record_bulk(
                actor=actor,
                objects=group,
                action="visitor.reuse_choose",
                from_state="new" if reuse else "reuse",
                to_state="reuse" if reuse else "new",
            )
    return len(changed[True]) + len(changed[False])


def visitor_create(
    *, unit: Unit, actor, person_type: str, name: str, id_type: str, id_number: str
) -> Visitor:
    """Add a saved (已保存) visitor with the essentials only (demo data, imports)."""
    return visitor_save(
        unit=unit,
        actor=actor,
        values={"person_type": person_type, "name": name},
        id_type=id_type,
        id_number=id_number,
    )


def _check_complete(visitors) -> None:
    """A visitor is submitted only with a photo, entry days and a way to receive the card."""
    missing = [
        v.name
        for v in visitors
        if not (v.photo and v.entry_period_id and v.pickup)
        or (v.pickup == Pickup.COURIER and not v.address_id)
    ]
    if missing:
        raise ValidationError(
            _(
                "Add the photo, the entry days and how the credential is received before "
                "submitting: %(names)s."
            )
            % {"names": "、".join(missing)}
        )


def _check_sensitive_consent(visitors) -> None:
    """PIPL art. 29: a visitor is submitted only with the separate consent to processing the ID
    document and face photo recorded (``registration.consent``)."""
    missing = [v.name for v in visitors if v.sensitive_consent_at is None]
    if missing:
        raise ValidationError(
            _("The consent to processing the ID document and face photo is missing: %(names)s.")
            % {"names": "、".join(missing)},
            code="sensitive_consent",
        )


def visitors_submit(
    *, unit: Unit, visitor_ids, actor, sensitive_consent: bool = False
) -> list[Visitor]:
    """Submit several saved visitors at once, after the contact took the pledge for them.

    With ``sensitive_consent`` the contact also gives, for those of them who have not given it
    yet, the consent to processing the ID document and face photo; each one needs it.

    Only inside the registration window (staff are not bound)."""
    registration_window_check(edition=unit.edition, actor=actor)
    with transaction.atomic():
        chosen = list(
            Visitor.objects.select_for_update(of=("self",))
            .filter(unit=unit, pk__in=visitor_ids, status=Visitor.Status.SAVED, join_pending=False)
            .select_related("unit", "entry_period", "previous__unit", "previous__entry_period")
        )
        _check_complete(chosen)
        now = timezone.now()
        if sensitive_consent:
            lacking = [v for v in chosen if v.sensitive_consent_at is None]
            Visitor.objects.filter(pk__in=[v.pk for v in lacking]).update(
                sensitive_consent_at=now, sensitive_consent_by=ConsentBy.CONTACT
            )
            for visitor in lacking:
                visitor.sensitive_consent_at = now
                visitor.sensitive_consent_by = ConsentBy.CONTACT
            audit_record_bulk(
                actor=actor,
                objects=lacking,
                action="visitor.sensitive_consent",
                data={"by": ConsentBy.CONTACT.value},
            )
        _check_sensitive_consent(chosen)
        reusing = [v for v in chosen if reuse_applies(v)]
        moved = []
        for label in {v.original_label for v in reusing}:
            moved += VISITOR_STATES.move_many(
                Visitor.objects.filter(pk__in=[v.pk for v in reusing if v.original_label == label]),
                Visitor.Status.PENDING_LOCK,
                actor=actor,
                submitted_at=now,
                pledged_at=now,
                label=label,
            )
        return moved + VISITOR_STATES.move_many(
            Visitor.objects.filter(pk__in=[v.pk for v in chosen if v not in reusing]),
            Visitor.Status.SUBMITTED,
            actor=actor,
            submitted_at=now,
            pledged_at=now,
        )


# Only saved visitors may be deleted; submitted ones stay (they are the delegation's now).
VISITOR_DELETABLE = (Visitor.Status.SAVED,)
VISITOR_NOT_DELETABLE = _lazy("This visitor was submitted and can no longer be deleted.")


def visitor_delete(*, visitor: Visitor, actor) -> None:
    """Delete a saved visitor; submitted ones stay (they are the delegation's now)."""
    with transaction.atomic():
        audit_record(actor=actor, obj=visitor, action="visitor.delete", from_state=visitor.status)
        deleted, _rows = Visitor.objects.filter(
            pk=visitor.pk, status__in=VISITOR_DELETABLE
        ).delete()
        if not deleted:
            raise ValidationError(str(VISITOR_NOT_DELETABLE))


@dataclass
class VisitorsDeleted:
    """What ``visitors_delete`` did: the names deleted, the names refused with the reason, and
    how many of the ids were not the unit's visitors at all."""

    deleted: list[str] = dataclass_field(default_factory=list)
    refused: list[tuple[str, str]] = dataclass_field(default_factory=list)
    unknown: int = 0


def visitors_delete(*, unit: Unit, ids, actor) -> VisitorsDeleted:
    """批量删除: delete those of ``ids`` that are the unit's saved visitors, under the rule of
    ``visitor_delete``, in one transaction with one audit row each (one INSERT).

    The rows are locked first, so a visitor submitted meanwhile is refused, never deleted.
    Ids of another unit's visitors, or of colleagues awaiting approval, are only counted
    (``unknown``): their names are not the contact's to see here."""
    ids = {int(pk) for pk in ids}
    result = VisitorsDeleted()
    with transaction.atomic():
        visitors = list(
            Visitor.objects.select_for_update()
            .filter(unit=unit, join_pending=False, pk__in=ids)
            .order_by("pk")
        )
        result.unknown = len(ids) - len(visitors)
        deletable = [v for v in visitors if v.status in VISITOR_DELETABLE]
        result.refused = [
            (v.name, str(VISITOR_NOT_DELETABLE)) for v in visitors if v not in deletable
        ]
        if deletable:
            audit_record_bulk(
                actor=actor,
                objects=deletable,
                action="visitor.delete",
                from_state={v.pk: v.status for v in deletable},
            )
            Visitor.objects.filter(
                pk__in=[v.pk for v in deletable], status__in=VISITOR_DELETABLE
            ).delete()
            result.deleted = [v.name for v in deletable]
    return result


def unit_submit(*, unit: Unit, actor, visitor_ids=(), sensitive_consent: bool = False) -> Unit:
    """确认提交: the unit goes to its delegation's review (or is approved at once where the
    edition says so). At least one visitor must be submitted before or together with it.

    Only inside the registration window — except that a unit its delegation returned for
    changes may submit its corrections after registration closed (visitors it submits with
    them still keep to the window, ``visitors_submit``)."""
    if unit.status != Unit.Status.RETURNED:
        registration_window_check(edition=unit.edition, actor=actor)
    with transaction.atomic():
        unit = Unit.objects.select_for_update().select_related("edition").get(pk=unit.pk)
        if not unit.is_editable:
            raise ValidationError(_("The unit information was already submitted."))
        if unit.info_saved_at is None:
            raise ValidationError(_("Fill in and save the unit information first."))
        if visitor_ids:
            visitors_submit(
                unit=unit,
                visitor_ids=visitor_ids,
                actor=actor,
                sensitive_consent=sensitive_consent,
            )
        submitted = (
            Visitor.objects.filter(unit=unit)
            .exclude(status__in=[Visitor.Status.SAVED, Visitor.Status.CANCELLED])
            .exists()
        )
        if not submitted:
            raise ValidationError(
                _("Submit at least one visitor before or together with the unit.")
            )
        UNIT_STATES.move(unit, Unit.Status.SUBMITTED, actor=actor, submitted_at=timezone.now())
        if unit.edition.is_auto_approved(unit.category):
            UNIT_STATES.move(
                unit, Unit.Status.APPROVED, actor="system", reason=_("Approved automatically")
            )
            unit_review_notice(unit=unit, key=f"unit-review:{unit.pk}:auto")
    return unit


def unit_review_notice(*, unit: Unit, key: str, reason: str = "") -> None:
    """Tell the unit its review result (its status now), with the reason if any: by SMS to
    the contact's mobile and by email to the contact's address, each when there is one.
    ``key`` names the review; each channel's notice key is ``key`` + ":sms" / ":email"."""
    params = {
        "unit": unit.name,
        "delegation": str(unit.delegation or ""),
        "result": str(unit.get_status_display()),
        "reason": reason,
    }
    notice_send_both(
        key=key,
        event="unit_review_result",
        template="unit_review_result",
        params=params,
        mobile=unit.contact_mobile,
        email=unit.contact_email,
    )


# --- Accounts -------------------------------------------------------------------------------


def new_account_number() -> str:
    """An account number for a unit without a USCC: W + 9 characters, never I/O/Z/S/V."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    while True:
        number = "W" + "".join(secrets.choice(alphabet) for _ in range(9))
        if not User.objects.filter(username=number).exists():
            return number


def _free_login_name(*, login_name: str, edition) -> None:
    """A login name held by an account of an earlier edition is archived.

    That happens when a returning unit chooses to register anew instead of verifying its old
    account: the old account keeps its data under ``<name>~<edition>`` and loses the link.
    """
    holder = User.objects.filter(username=login_name).first()
    if holder is None:
        return
    if Unit.objects.filter(account=holder, edition=edition).exists():
        raise ValidationError({"uscc": _("This code is already registered for this expo.")})
    last = holder.units.order_by("-edition__number").values_list("edition__number", flat=True)
    suffix = last.first() or holder.pk
    User.objects.filter(pk=holder.pk).update(username=f"{login_name}~{suffix}")
    audit_record(actor=None, obj=holder, action="account.archive", to_state=f"~{suffix}")


def account_register(
    *,
    edition,
    region: str,
    category: str,
    kind: str,
    delegation,
    name: str,
    uscc: str,
    recommendation_code: str,
    invitation_code: str,
    mobile: str,
    password: str,
    privacy_policy_id: int | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
) -> tuple[User, Unit]:
    """Open a unit's account: its login name is the USCC (or a new account number).

    ``privacy_policy_id``: the privacy policy version accepted on the entry page, recorded with
    the address and browser (``registration.consent``).

    Only inside the registration window (``ciie_portal.windows``)."""
    registration_window_check(edition=edition, actor=None)
    with transaction.atomic():
        login_name = uscc or new_account_number()
        _free_login_name(login_name=login_name, edition=edition)
        user = User(username=login_name, mobile=mobile)
        user.set_password(password)
        user.save()
        unit = Unit.objects.create(
            edition=edition,
            account=user,
            delegation=delegation,
            region=region,
            category=category,
            kind=kind,
            name=name,
            uscc=uscc,
            account_number="" if uscc else login_name,
            recommendation_code=recommendation_code,
            invitation_code=invitation_code,
            contact_mobile=mobile,
        )
        audit_record(actor=user, obj=unit, action="unit.create", to_state=unit.status)
        policy = PrivacyPolicy.objects.filter(
            pk=privacy_policy_id, edition=edition, published_at__isnull=False
        ).first()
        if policy is not None:
            consent_record(user=user, policy=policy, ip_address=ip_address, user_agent=user_agent)
    return user, unit


def password_reset(*, user: User, password: str) -> None:
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, obj=user, action="account.password_reset")


# --- Unit information -----------------------------------------------------------------------

UNIT_INFO_FIELDS = [
    "name", "short_name", "country", "province", "city", "district", "street", "capital_band",
    "nature", "industry", "revenue", "import_amount", "export_amount", "import_methods",
    "is_listed", "contact_name", "contact_title", "contact_mobile", "contact_department",
    "contact_position", "contact_phone", "contact_email", "interest_areas", "interest_zones",
    "purchase_1y", "purchase_5y",
]  # fmt: skip


def _refuse_if_locked(unit: Unit) -> None:
    if not unit.is_editable:
        raise ValidationError(_("The unit information was submitted and can no longer be changed."))


def unit_info_save(*, unit: Unit, actor, values: dict, licence=None) -> Unit:
    """Store the unit information form; the autosaved draft has done its job and goes.

    The values are applied to the row as locked now, and only the fields that changed are
    written: ``unit`` may be stale (read before an organiser changed its delegation or status
    a moment ago), and saving it whole would silently undo that change. A new unit name is new
    card data: no visitor of the unit reuses last edition's credential any more.
    Returns the unit as stored.
    """
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        _refuse_if_locked(locked)
        changed = [
            field
            for field in UNIT_INFO_FIELDS
            if field in values and getattr(locked, field) != values[field]
        ]
        renamed = "name" in changed
        for field in changed:
            setattr(locked, field, values[field])
        if licence is not None:
            locked.licence = licence
            changed.append("licence")
        locked.info_saved_at = timezone.now()
        locked.save(update_fields=[*changed, "info_saved_at", "updated_at"])
        UnitDraft.objects.filter(unit=locked).delete()
        # Only the names of the changed fields: the values may be personal data.
        audit_record(actor=actor, obj=locked, action="unit.info_save", data={"fields": changed})
        if renamed:
            _reuse_clear_of_unit(unit=locked, actor=actor, fields=["unit_name"])
    return locked


def unit_delegation_change(*, unit: Unit, delegation, actor, reason: str = "") -> Unit:
    """Move a unit to another delegation (an organiser or secretary, in the admin).

    The delegation is printed on the card: no visitor of the unit reuses last edition's
    credential any more. Only the delegation is written, on the locked row.
    """
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        new_id = delegation.pk if delegation else None
        if locked.delegation_id == new_id:
            return locked
        old_id = locked.delegation_id
        locked.delegation = delegation
        locked.save(update_fields=["delegation", "updated_at"])
        audit_record(
            actor=actor,
            obj=locked,
            action="unit.delegation_change",
            from_state=str(old_id or ""),
            to_state=str(new_id or ""),
            reason=reason,
        )
        _reuse_clear_of_unit(unit=locked, actor=actor, fields=["delegation"])
    return locked


def unit_draft_save(*, unit: Unit, data: dict) -> UnitDraft:
    """Autosave: keep what the form holds, without validating it; never on a locked unit."""
    _refuse_if_locked(unit)
    draft, _created = UnitDraft.objects.update_or_create(
        unit=unit, defaults={"data": data, "saved_at": timezone.now()}
    )
    return draft


# Visitors whose entry days the unit may still change: submitted, not yet in an order.
ENTRY_DAYS_CHANGEABLE = (
    Visitor.Status.SUBMITTED,
    Visitor.Status.PENDING_LOCK,
    Visitor.Status.PENDING_PAYMENT,
)


def visitor_change_entry_days(*, visitor: Visitor, entry_period, actor) -> Visitor:
    """入场日期 may change until the visitor is in a credential order (the fee depends on it).

    Not bound by the registration window: SPEC §10's window for these is "until the order"
    (``ciie_portal.windows``)."""
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        # order_lines belongs to the credentials app; the reverse relation keeps this app from
        # importing it.
        in_order = visitor.order_lines.filter(open=True).exists()
        if visitor.status not in ENTRY_DAYS_CHANGEABLE or in_order:
            raise ValidationError(
                _("The entry days can no longer change: the visitor is in an order already.")
                if in_order
                else _("The entry days of this visitor can no longer change.")
            )
        if entry_period.edition_id != visitor.edition_id:
            raise ValidationError(_("Choose entry days of this expo."))
        previous = visitor.entry_period_id
        visitor.entry_period = entry_period
        # Other entry days than last edition's: a new card, at the full fee.
        reuse_cleared = (
            visitor.reuse_eligible
            and visitor.status in REUSE_CLEARABLE
            and "entry_days" in card_differences(visitor)
        )
        if reuse_cleared:
            visitor.reuse_eligible = False
        Visitor.objects.filter(pk=visitor.pk).update(
            entry_period=entry_period,
            reuse_eligible=visitor.reuse_eligible,
            updated_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            obj=visitor,
            action="visitor.entry_days",
            from_state=str(previous or ""),
            to_state=str(entry_period.pk),
        )
        if reuse_cleared:
            audit_record(
                actor=actor,
                obj=visitor,
                action="visitor.reuse_cleared",
                data={"fields": ["entry_days"]},
            )
    return visitor
