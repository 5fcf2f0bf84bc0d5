import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record

from .models import DeliveryAddress, Unit, UnitDraft, User, Visitor
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


def visitor_create(
    *,
    unit: Unit,
    actor,
    person_type: str,
    name: str,
    id_type: str,
    id_number: str,
) -> Visitor:
    """Add a visitor to a unit (state 已保存). One ID number is one visitor per edition."""
    validate_id_number(id_type, id_number)
    visitor = Visitor(
        edition_id=unit.edition_id,
        unit=unit,
        person_type=person_type,
        name=name,
        id_type=id_type,
    )
    visitor.id_number = id_number
    duplicate = _("This ID number is already registered for this expo.")
    if Visitor.objects.filter(
        edition_id=unit.edition_id, id_number_index=visitor.id_number_index
    ).exists():
        # Never say which unit holds it: that would leak another unit's visitor.
        raise ValidationError({"id_number": duplicate})
    try:
        with transaction.atomic():
            visitor.save()
            audit_record(actor=actor, obj=visitor, action="visitor.create", to_state=visitor.status)
    except IntegrityError:
        # Two units entered the same number at the same moment; the constraint decided.
        raise ValidationError({"id_number": duplicate}) from None
    return visitor


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
