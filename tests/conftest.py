"""The fixed cast of every test: a unit contact, another unit's contact, a secretary of this
delegation (广东广州交易分团) and of its trade delegation (广东交易团), a secretary of another
trade delegation, finance staff and an organiser."""

from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import translation

from ciie_portal.roles import FINANCE, ORGANISER, SECRETARY, roles_sync
from delegations.models import Delegation
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.delegations.factories import DelegationFactory, SecretaryFactory
from tests.registration.factories import UnitFactory, UserFactory
from tests.two_factor import verify_session


def database_url(name: str | None = None) -> str:
    """The URL of the test database — or of database ``name`` on the same server — for a
    process a test starts (a worker, a script)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{name or db['NAME']}"


on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (row locks, real concurrency)"
)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts as the suite starts (creating the test database deactivates every
    translation: messages read as their English msgids, names of data as their Chinese default,
    ciie_portal.names): a test client's request leaves the visitor's language active in this
    thread otherwise."""
    translation.deactivate_all()
    yield
    translation.deactivate_all()


@pytest.fixture
def roles(db):
    roles_sync()


@pytest.fixture
def edition(db):
    edition = EditionFactory(number=10, is_current=True)
    EntryPeriodFactory(edition=edition)
    return edition


@pytest.fixture
def guangdong(db):
    return Delegation.objects.get(code="gd")


@pytest.fixture
def guangzhou(db):
    return Delegation.objects.get(code="gd-guangzhou")


@pytest.fixture
def other_delegation(db):
    return DelegationFactory(name="浙江交易团", code="zj")


@pytest.fixture
def unit(edition, guangzhou):
    return UnitFactory(edition=edition, delegation=guangzhou)


@pytest.fixture
def other_unit(edition, other_delegation):
    return UnitFactory(edition=edition, delegation=other_delegation)


def approved_unit_fixtures():
    """``unit`` and ``other_unit`` as approved units, for the packages whose tests start after
    the delegation's review: labels, lock, orders, payments, the visitor review and production
    need an approved unit (``delegations.gates``). A package's conftest says
    ``unit, other_unit = approved_unit_fixtures()``."""
    from tests.registration.factories import ApprovedUnitFactory

    @pytest.fixture
    def unit(edition, guangzhou):
        return ApprovedUnitFactory(edition=edition, delegation=guangzhou)

    @pytest.fixture
    def other_unit(edition, other_delegation):
        return ApprovedUnitFactory(edition=edition, delegation=other_delegation)

    return unit, other_unit


@pytest.fixture
def contact(unit):
    return unit.account


@pytest.fixture
def other_contact(other_unit):
    return other_unit.account


def _staff(group_name, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def _secretary_of(delegation):
    secretary = SecretaryFactory(delegation=delegation)
    secretary.user.groups.add(Group.objects.get(name=SECRETARY))
    return secretary.user


@pytest.fixture
def secretary(roles, guangzhou):
    return _secretary_of(guangzhou)


@pytest.fixture
def group_secretary(roles, guangdong):
    return _secretary_of(guangdong)


@pytest.fixture
def other_secretary(roles, other_delegation):
    return _secretary_of(other_delegation)


@pytest.fixture
def finance(roles):
    return _staff(FINANCE)


@pytest.fixture
def organiser(roles):
    return _staff(ORGANISER)


@pytest.fixture(autouse=True)
def _staff_sign_in_with_second_factor(settings, monkeypatch):
    """``client.force_login(staff)`` signs a staff user in as the sign-in pages do — password
    and second factor (a confirmed authenticator recorded in the session, as
    ``django_otp.login`` does) — so that tests of staff pages start on them. How staff get
    there (password, enrolment, codes, backup codes, throttling) is tested through the real
    pages in tests/ciie_portal/test_two_factor.py; browser tests sign in through those pages
    (tests/browser/staff.py). The demo accounts' exemption (embedded mode) is off unless a test
    turns it on."""
    settings.TWO_FACTOR_DEMO_EXEMPT = False
    force_login = Client.force_login

    def force_login_with_second_factor(self, user, backend=None):
        force_login(self, user, backend)
        if user.is_staff:
            verify_session(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_with_second_factor)


@pytest.fixture(autouse=True)
def _outbox(settings, tmp_path):
    """Each test writes its notices to its own outbox."""
    settings.OUTBOX_DIR = tmp_path / "outbox"
    return settings.OUTBOX_DIR


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Tests run tasks in-process (still only on commit), even when a broker is configured;
    tests/ciie_portal/test_celery_worker.py uses a real worker instead."""
    from ciie_portal.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Pages render without a collectstatic manifest (production uses the manifest)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """A reused test database may have been emptied by the transactional tests of an earlier
    run (they truncate every table): load the reference data again if it is missing."""
    from importlib import import_module

    from django.apps import apps

    with django_db_blocker.unblock():
        if not Delegation.objects.filter(code="gd").exists():
            import_module("delegations.migrations.0003_guangdong_delegation").load(apps, None)
        # Their English names (fills in only the empty ones).
        import_module("delegations.migrations.0005_delegation_name_en").fill(apps, None)


@pytest.fixture(autouse=True)
def _read_cache_anew():
    """What one test kept in the shared cache (the landing page's directory, entry periods) is
    not another's: a rolled-back test sends no signal that would have made it read anew."""
    from ciie_portal import read_cache

    read_cache.forget_all()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hundreds of accounts in some tests: PBKDF2's deliberate slowness is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _payment_sandbox(settings):
    """The sandbox gateways stand in for Alipay, WeChat Pay, UnionPay and the B2B bank."""
    settings.PAYMENT_SANDBOX_ENABLED = True


@pytest.fixture
def private_media(settings, tmp_path):
    """Uploads and generated files (photos, vouchers, statements, cards) go to the test's own
    private folder, as they go to private storage in production."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None},
        },
    }
    return tmp_path / "private"
