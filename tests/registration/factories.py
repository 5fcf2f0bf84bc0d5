import factory
from django.utils import timezone

from ciie_portal.choices import Region, UnitCategory
from registration.models import (
    ConsentBy,
    DeliveryAddress,
    IdType,
    PersonType,
    Unit,
    User,
    Visitor,
)
from registration.validators import resident_id_check_char, uscc_check_char
from tests.ciie_portal.factories import EditionFactory

PASSWORD = "Correct-Horse-9"


def make_uscc(n: int) -> str:
    body = f"91310000MA{n:07d}"
    return body + uscc_check_char(body)


def make_resident_id(n: int, *, birth: str = "19800101", region: str = "310101") -> str:
    body = f"{region}{birth}{n % 1000:03d}"
    return body + resident_id_check_char(body)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    edition = factory.SubFactory(EditionFactory)
    account = factory.SubFactory(UserFactory)
    delegation = None
    region = Region.MAINLAND
    category = UnitCategory.ENTERPRISE
    name = factory.Sequence(lambda n: f"上海测试贸易有限公司{n}")
    uscc = factory.Sequence(make_uscc)


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    unit = factory.SubFactory(UnitFactory)
    edition = factory.SelfAttribute("unit.edition")
    person_type = PersonType.MAINLAND
    name = factory.Sequence(lambda n: f"访客{n}")
    id_type = IdType.RESIDENT_ID
    id_number = factory.Sequence(make_resident_id)
    # The visitor's consent to processing the ID document and face photo (PIPL art. 29), which
    # every submission needs; ``sensitive_consent_at=None`` for a visitor without it.
    sensitive_consent_at = factory.LazyFunction(timezone.now)
    sensitive_consent_by = ConsentBy.CONTACT


class DeliveryAddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAddress

    unit = factory.SubFactory(UnitFactory)
    recipient = "王收件"
    mobile = "13900000000"
    address = "上海市青浦区崧泽大道333号"
    postcode = "201702"


class ApprovedUnitFactory(UnitFactory):
    """A unit its delegation approved: what labels, lock, orders, payments, the visitor review
    and production need (``delegations.gates``)."""

    status = Unit.Status.APPROVED
