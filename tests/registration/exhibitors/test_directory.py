"""The directory pages of a signed-in unit contact: search in three scripts, filters,
pagination at a constant cost, the exhibitor page, who may see what, the English page."""

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse

from ciie_portal import read_cache
from registration.exhibitors.directory import keyword_terms, search, terms_filter
from registration.exhibitors.models import Exhibitor, Product
from tests.ciie_portal.factories import EditionFactory

from .factories import ExhibitorFactory, ProductFactory, refresh_search_text

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("registration:exhibitor_directory")


@pytest.fixture(autouse=True)
def _fresh_cache():
    read_cache.forget_all()


def detail(exhibitor) -> str:
    return reverse("registration:exhibitor_detail", args=[exhibitor.pk])


@pytest.fixture
def medical(edition):
    exhibitor = ExhibitorFactory(
        edition=edition,
        code="E001",
        name="德国精密仪器有限公司",
        name_en="German Precision Instruments GmbH",
        country="DE",
        area="medical_healthcare",
        zone="rehabilitation_elderly_care",
    )
    ProductFactory(
        exhibitor=exhibitor,
        code="P1",
        name="医疗影像设备",
        name_en="Medical imaging system",
        description="高清",
        description_en="High definition",
    )
    ProductFactory(
        exhibitor=exhibitor,
        code="P2",
        name="实验室离心机",
        name_en="Centrifuge",
        category="实验室设备",
        category_en="Laboratory equipment",
    )
    return refresh_search_text(exhibitor)


@pytest.fixture
def cars(edition):
    exhibitor = ExhibitorFactory(
        edition=edition,
        code="E002",
        name="法国汽车集团",
        name_en="French Motors",
        country="FR",
        area="automobile",
    )
    ProductFactory(
        exhibitor=exhibitor,
        code="P1",
        name="电动汽车",
        name_en="Electric car",
        category="汽车",
        category_en="Cars",
        industry="36",
    )
    return refresh_search_text(exhibitor)


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


def names(response) -> list[str]:
    return [exhibitor.name for exhibitor in response.context["exhibitors"]]


@pytest.mark.parametrize("keyword", ["医疗", "medical", "Medical", "yiliao", "yl", "ylyx"])
def test_search_in_three_scripts_finds_the_exhibitor_by_its_product(
    signed_in, medical, cars, keyword
):
    response = signed_in.get(DIRECTORY, {"q": keyword})
    assert response.status_code == 200
    assert names(response) == ["德国精密仪器有限公司"]
    shown = response.context["exhibitors"][0].matching_products
    assert [product.code for product in shown] == ["P1"]
    assert "医疗影像设备" in response.content.decode()


def test_search_by_the_exhibitors_own_name_and_several_terms(signed_in, medical, cars):
    assert names(signed_in.get(DIRECTORY, {"q": "falguo"})) == []
    assert names(signed_in.get(DIRECTORY, {"q": "faguo qiche"})) == ["法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"q": "French"})) == ["法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"q": "ＦＲＥＮＣＨ"})) == ["法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"q": "precision centrifuge"})) == [
        "德国精密仪器有限公司"
    ]


def test_filters(signed_in, medical, cars):
    assert names(signed_in.get(DIRECTORY)) == ["德国精密仪器有限公司", "法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"area": "automobile"})) == ["法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"zone": "rehabilitation_elderly_care"})) == [
        "德国精密仪器有限公司"
    ]
    assert names(signed_in.get(DIRECTORY, {"country": "FR"})) == ["法国汽车集团"]
    assert names(signed_in.get(DIRECTORY, {"country": "FR", "q": "yiliao"})) == []
    # An unknown value is dropped, the other filters still apply.
    assert names(signed_in.get(DIRECTORY, {"area": "nowhere", "country": "DE"})) == [
        "德国精密仪器有限公司"
    ]
    page = signed_in.get(DIRECTORY).content.decode()
    assert 'role="search"' in page and 'for="id_q"' in page and 'for="id_country"' in page
    assert "德国" in page and "法国" in page  # the country choices of the edition


def test_another_editions_and_unlisted_exhibitors_are_not_found(signed_in, edition, medical):
    other = ExhibitorFactory(edition=EditionFactory(number=11), name="别届展商")
    hidden = ExhibitorFactory(edition=edition, name="未公开展商", is_listed=False)
    assert names(signed_in.get(DIRECTORY)) == ["德国精密仪器有限公司"]
    assert signed_in.get(detail(other)).status_code == 404
    assert signed_in.get(detail(hidden)).status_code == 404
    assert signed_in.get(detail(medical)).status_code == 200


def test_pages_cost_the_same_whatever_the_page(signed_in, edition, django_assert_max_num_queries):
    for n in range(45):
        exhibitor = ExhibitorFactory(edition=edition, name=f"医疗公司{n}")
        ProductFactory.create_batch(3, exhibitor=exhibitor, name=f"医疗器械{n}")
        refresh_search_text(exhibitor)
    signed_in.get(DIRECTORY)  # the session, the kept facts
    counts = []
    for params in ({}, {"page": 2}, {"page": 3}, {"q": "yiliao"}, {"q": "yiliao", "page": 3}):
        with django_assert_max_num_queries(8) as captured:
            response = signed_in.get(DIRECTORY, params)
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))
    assert len(set(counts[:3])) == 1 and counts[3] == counts[4]
    assert len(response.context["exhibitors"]) == 5
    assert all(len(e.matching_products) == 3 for e in response.context["exhibitors"])


def test_the_exhibitor_page_lists_its_products(signed_in, medical):
    response = signed_in.get(detail(medical))
    page = response.content.decode()
    assert "德国精密仪器有限公司" in page and "医疗影像设备" in page and "高清" in page
    assert "实验室离心机" in page
    assert "医疗器械及医药保健展区" in page and "康复养老专区" in page and "德国" in page


def test_the_english_pages_show_english_names(signed_in, medical):
    signed_in.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = signed_in.get(DIRECTORY, {"q": "yiliao"}).content.decode()
    assert "German Precision Instruments GmbH" in page and "Medical imaging system" in page
    assert "Germany" in page
    page = signed_in.get(detail(medical)).content.decode()
    assert "German Precision Instruments GmbH" in page and "High definition" in page
    assert "Medical Equipment and Healthcare Products Exhibition Area" in page
    assert "Rehabilitation and Elderly Care Zone" in page


def test_no_directory_yet(signed_in, edition, django_assert_max_num_queries):
    response = signed_in.get(DIRECTORY)
    assert response.status_code == 200
    assert 'id="directory-empty"' in response.content.decode()


def test_anonymous_goes_to_sign_in(client, medical):
    for url in (DIRECTORY, detail(medical)):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_an_account_without_a_unit_gets_404(client, medical, secretary):
    client.force_login(secretary)
    assert client.get(DIRECTORY).status_code == 404
    assert client.get(detail(medical)).status_code == 404


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram index on PostgreSQL")
@pytest.mark.parametrize("keyword", ["医疗影像", "yiliao", "medical imaging"])
def test_keyword_search_reads_the_trigram_indexes(edition, medical, keyword):
    """On PostgreSQL, the keyword's ``LIKE '%…%'`` on search_text (``contains``, not
    ``icontains``'s ``UPPER(…)``) is answered by the gin_trgm_ops indexes of migration 0016
    (shown with sequential scans off: the test tables are tiny). With 5,000 exhibitors and
    50,000 products, a selective keyword's page reads the index in about 2 ms."""
    terms = keyword_terms(keyword)
    for queryset, index in (
        (Exhibitor.objects.filter(terms_filter(terms)).order_by(), "exhibitor_search_trgm"),
        (Product.objects.filter(terms_filter(terms)).order_by(), "product_search_trgm"),
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            sql, params = queryset.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(line for (line,) in cursor.fetchall())
        assert f"Bitmap Index Scan on {index}" in plan, plan
    assert names_found(edition, keyword) == ["德国精密仪器有限公司"]


def names_found(edition, keyword) -> list[str]:
    return [exhibitor.name for exhibitor in search(edition.pk, keyword=keyword)]
