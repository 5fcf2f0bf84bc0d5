import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.notices.services import notice_send

from .models import (
    UNIT_STATES,
    VISITOR_STATES,
    DeliveryAddress,
    Pickup,
    Unit,
    UnitDraft,
    User,
    Visitor,
)
from .validators import validate_id_number


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
) -> Visitor:
    """Add or change a visitor of ``unit``; with ``submit`` it is also submitted (locked).

    One ID number is one visitor per edition, across all units. Only saved (已保存) visitors
    can change.
    """
    validate_id_number(id_type, id_number)
    with transaction.atomic():
        if visitor is None:
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
        visitor.id_type = id_type
        visitor.id_number = id_number
        if photo is not None:
            visitor.photo = photo
        if (
            Visitor.objects.filter(
                edition_id=unit.edition_id, id_number_index=visitor.id_number_index
            )
            .exclude(pk=visitor.pk)
            .exists()
        ):
            raise _duplicate_id_error()
        if submit:
            _check_complete([visitor])
            visitor.pledged_at = timezone.now()
        try:
            with transaction.atomic():
                visitor.save()
        except IntegrityError:
            # Two units entered the same number at the same moment; the constraint decided.
            raise _duplicate_id_error() from None
        audit_record(actor=actor, obj=visitor, action=action, to_state=visitor.status)
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


def reuse_applies(visitor: Visitor) -> bool:
    """证件复用: last edition's credential can be reused when the card would be the same —
    name, unit, delegation, photo and entry days unchanged, and it passed last review."""
    old = visitor.previous
    if not (visitor.reuse_eligible and old and visitor.original_label):
        return False
    same_days = (
        visitor.entry_period
        and old.entry_period
        and (
            visitor.entry_period.first_day.strftime("%m%d"),
            visitor.entry_period.last_day.strftime("%m%d"),
        )
        == (old.entry_period.first_day.strftime("%m%d"), old.entry_period.last_day.strftime("%m%d"))
    )
    return bool(
        same_days
        and visitor.name == old.name
        and visitor.unit.name == old.unit.name
        and visitor.unit.delegation_id == old.unit.delegation_id
        and visitor.photo.name == old.photo.name
    )


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


def visitors_submit(*, unit: Unit, visitor_ids, actor) -> list[Visitor]:
    """Submit several saved visitors at once, after the contact took the pledge for them."""
    with transaction.atomic():
        chosen = list(
            Visitor.objects.select_for_update(of=("self",))
            .filter(unit=unit, pk__in=visitor_ids, status=Visitor.Status.SAVED, join_pending=False)
            .select_related("unit", "entry_period", "previous__unit", "previous__entry_period")
        )
        _check_complete(chosen)
        now = timezone.now()
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


def visitor_delete(*, visitor: Visitor, actor) -> None:
    """Delete a saved visitor; submitted ones stay (they are the delegation's now)."""
    with transaction.atomic():
        audit_record(actor=actor, obj=visitor, action="visitor.delete", from_state=visitor.status)
        deleted, _rows = Visitor.objects.filter(pk=visitor.pk, status=Visitor.Status.SAVED).delete()
        if not deleted:
            raise ValidationError(_("This visitor was submitted and can no longer be deleted."))


def unit_submit(*, unit: Unit, actor, visitor_ids=()) -> Unit:
    """确认提交: the unit goes to its delegation's review (or is approved at once where the
    edition says so). At least one visitor must be submitted before or together with it."""
    with transaction.atomic():
        unit = Unit.objects.select_for_update().select_related("edition").get(pk=unit.pk)
        if not unit.is_editable:
            raise ValidationError(_("The unit information was already submitted."))
        if unit.info_saved_at is None:
            raise ValidationError(_("Fill in and save the unit information first."))
        if visitor_ids:
            visitors_submit(unit=unit, visitor_ids=visitor_ids, actor=actor)
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
    """Email the unit its review result (its status now), with the reason if any."""
    if not unit.contact_email:
        return
    notice_send(
        key=key,
        event="unit_review_result",
        channel="email",
        recipient=unit.contact_email,
        template="unit_review_result",
        params={
            "unit": unit.name,
            "delegation": str(unit.delegation or ""),
            "result": str(unit.get_status_display()),
            "reason": reason,
        },
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
) -> tuple[User, Unit]:
    """Open a unit's account: its login name is the USCC (or a new account number)."""
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
    """Store the unit information form; the autosaved draft has done its job and goes."""
    with transaction.atomic():
        locked = Unit.objects.select_for_update().get(pk=unit.pk)
        _refuse_if_locked(locked)
        for field in UNIT_INFO_FIELDS:
            if field in values:
                setattr(unit, field, values[field])
        if licence is not None:
            unit.licence = licence
        unit.info_saved_at = timezone.now()
        unit.save()
        UnitDraft.objects.filter(unit=unit).delete()
        audit_record(actor=actor, obj=unit, action="unit.info_save")
    return unit


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
    """入场日期 may change until the visitor is in a credential order (the fee depends on it)."""
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
        Visitor.objects.filter(pk=visitor.pk).update(entry_period=entry_period)
        visitor.entry_period = entry_period
        audit_record(
            actor=actor,
            obj=visitor,
            action="visitor.entry_days",
            from_state=str(previous or ""),
            to_state=str(entry_period.pk),
        )
    return visitor
