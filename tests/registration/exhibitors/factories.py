"""Exhibitors and products of the directory, with the ``search_text`` the importer writes."""

import factory

from registration.exhibitors.directory import exhibitor_search_text, product_search_text
from registration.exhibitors.models import Exhibitor, Product
from tests.ciie_portal.factories import EditionFactory


class ExhibitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exhibitor

    edition = factory.SubFactory(EditionFactory)
    code = factory.Sequence(lambda n: f"E{n:05d}")
    name = factory.Sequence(lambda n: f"测试展商{n}有限公司")
    name_en = factory.Sequence(lambda n: f"Test Exhibitor {n} Ltd")
    country = "DE"
    hall = "1.1"
    booth = factory.Sequence(lambda n: f"A{n:03d}")
    area = "medical_healthcare"
    zone = ""
    industries = factory.LazyFunction(list)
    is_listed = True
    # Products added later do not change it: call ``refresh_search_text(exhibitor)`` then.
    search_text = factory.LazyAttribute(lambda o: exhibitor_search_text(o.name, o.name_en))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    exhibitor = factory.SubFactory(ExhibitorFactory)
    code = factory.Sequence(lambda n: f"P{n:06d}")
    name = factory.Sequence(lambda n: f"测试展品{n}")
    name_en = factory.Sequence(lambda n: f"Test product {n}")
    category = "医疗器械"
    category_en = "Medical devices"
    industry = "35"
    description = ""
    search_text = factory.LazyAttribute(
        lambda o: product_search_text(o.name, o.name_en, o.category, o.category_en)
    )


def refresh_search_text(exhibitor: Exhibitor) -> Exhibitor:
    """The exhibitor's ``search_text`` and ``industries`` rebuilt from its products, as an
    import writes them."""
    products = list(exhibitor.products.all())
    exhibitor.search_text = exhibitor_search_text(
        exhibitor.name, exhibitor.name_en, [p.search_text for p in products]
    )
    exhibitor.industries = sorted({p.industry for p in products if p.industry})
    exhibitor.save(update_fields=["search_text", "industries"])
    return exhibitor
