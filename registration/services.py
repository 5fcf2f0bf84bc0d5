from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record

from .models import DeliveryAddress, Unit, Visitor
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
