import factory

from delegations.models import Delegation, Secretary
from tests.registration.factories import UserFactory


class DelegationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delegation

    name = factory.Sequence(lambda n: f"测试交易团{n}")
    code = factory.Sequence(lambda n: f"test-{n}")
    contact_unit = "测试商务厅"


class SecretaryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Secretary

    user = factory.SubFactory(UserFactory, is_staff=True)
    delegation = factory.SubFactory(DelegationFactory)
