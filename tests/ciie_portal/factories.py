from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from ciie_portal.models import Edition, EntryPeriod

SHANGHAI = ZoneInfo("Asia/Shanghai")


class EditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Edition
        django_get_or_create = ["number"]

    number = factory.Sequence(lambda n: 20 + n)
    name = factory.LazyAttribute(lambda o: f"第{o.number}届中国国际进口博览会")
    starts_on = factory.LazyAttribute(lambda o: date(2007 + o.number, 11, 5))
    ends_on = factory.LazyAttribute(lambda o: o.starts_on + timedelta(days=5))
    # Open around now, whatever the edition's year: registration is enforced by the server
    # (ciie_portal.windows), and most tests register. Tests of the window set their own times.
    registration_opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    registration_closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    transfer_deadline = factory.LazyAttribute(
        lambda o: datetime(o.starts_on.year, 10, 12, 23, 59, tzinfo=SHANGHAI)
    )
    online_payment_deadline = factory.LazyAttribute(
        lambda o: datetime(o.starts_on.year, 10, 15, 23, 59, tzinfo=SHANGHAI)
    )
    reuse_fee_percent = Decimal("50.00")
    is_current = False


class EntryPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntryPeriod

    edition = factory.SubFactory(EditionFactory)
    name = "全程"
    first_day = factory.LazyAttribute(lambda o: o.edition.starts_on + timedelta(days=1))
    last_day = factory.LazyAttribute(lambda o: o.edition.ends_on)
    fee = Decimal("200.00")
