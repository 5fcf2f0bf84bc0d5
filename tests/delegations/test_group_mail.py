"""群发邮件: a secretariat writes to the units of its own subtree, each unit gets one email however
often delivery is retried, and the page counts what was sent."""

import pytest
from django.core import mail as outbox
from django.core.exceptions import PermissionDenied, ValidationError

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import notice_deliver, notice_send
from delegations.mailing import group_mail_send
from delegations.models import Delegation, GroupMail
from registration.models import Unit
from tests.registration.factories import UnitFactory

PAGE = "/staff/mail/"


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def units(edition, guangzhou, other_delegation):
    """Two units of 广州 (one without an email address), one of the science sub-delegation of
    广东, one of another trade delegation, and one of 广州 at an earlier expo."""
    science = Delegation.objects.get(code="gd-science-technology")
    return {
        "guangzhou": UnitFactory(
            edition=edition, delegation=guangzhou, contact_email="gz@example.com"
        ),
        "no_email": UnitFactory(edition=edition, delegation=guangzhou),
        "science": UnitFactory(
            edition=edition,
            delegation=science,
            contact_email="sci@example.com",
            status=Unit.Status.APPROVED,
        ),
        "other": UnitFactory(
            edition=edition, delegation=other_delegation, contact_email="zj@example.com"
        ),
        "earlier": UnitFactory(
            edition__number=9, delegation=guangzhou, contact_email="old@example.com"
        ),
    }


def _send(user, delegation, edition, **kwargs):
    return group_mail_send(
        user=user,
        delegation=delegation,
        edition=edition,
        subject=kwargs.pop("subject", "展前说明会通知"),
        body=kwargs.pop("body", "请各单位联系人于11月1日参加说明会。"),
        **kwargs,
    )


def _keys(group_mail):
    return set(
        Notice.objects.filter(key__startswith=f"group-mail:{group_mail.pk}:").values_list(
            "key", flat=True
        )
    )


def test_it_writes_to_every_unit_of_the_subtree_that_has_an_email_address(
    group_secretary, guangdong, edition, units
):
    sent = _send(group_secretary, guangdong, edition)

    assert sent.recipients == 2
    assert _keys(sent) == {
        f"group-mail:{sent.pk}:{units['guangzhou'].pk}",
        f"group-mail:{sent.pk}:{units['science'].pk}",
    }
    notices = Notice.objects.filter(key__startswith=f"group-mail:{sent.pk}:")
    assert sorted(n.recipient for n in notices) == ["gz@example.com", "sci@example.com"]
    assert {n.template for n in notices} == {"group_mail"}
    assert not Notice.objects.filter(recipient__in=["zj@example.com", "old@example.com"]).exists()


def test_a_sub_delegation_writes_only_to_its_own_units(secretary, guangzhou, edition, units):
    sent = _send(secretary, guangzhou, edition)
    assert sent.recipients == 1
    assert _keys(sent) == {f"group-mail:{sent.pk}:{units['guangzhou'].pk}"}


def test_it_can_write_only_to_units_in_one_status(group_secretary, guangdong, edition, units):
    sent = _send(group_secretary, guangdong, edition, unit_status=Unit.Status.APPROVED)
    assert sent.recipients == 1
    assert _keys(sent) == {f"group-mail:{sent.pk}:{units['science'].pk}"}
    assert sent.unit_status == "approved"


def test_the_email_says_what_the_secretary_wrote_without_escaping_it(
    group_secretary, guangdong, edition, units, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _send(
            group_secretary,
            guangdong,
            edition,
            subject="R&D <说明会>\n通知",
            body='请带上 "营业执照" & 名片 <原件>。',
        )

    assert len(outbox.outbox) == 2
    message = next(m for m in outbox.outbox if m.to == ["gz@example.com"])
    assert message.subject == "R&D <说明会> 通知"
    assert '请带上 "营业执照" & 名片 <原件>。' in message.body
    assert units["guangzhou"].name in message.body
    assert "&amp;" not in message.body
    assert "广东交易团" in message.body


def test_sending_twice_makes_two_mails_but_a_retry_never_sends_twice(
    group_secretary, guangdong, edition, units, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(group_secretary, guangdong, edition)
    with django_capture_on_commit_callbacks(execute=True):
        second = _send(group_secretary, guangdong, edition)

    assert GroupMail.objects.count() == 2
    assert len(outbox.outbox) == 4
    all_keys = list(
        Notice.objects.filter(key__startswith="group-mail:").values_list("key", flat=True)
    )
    assert len(all_keys) == len(set(all_keys)) == 4
    assert _keys(first).isdisjoint(_keys(second))

    # Delivery runs again (a worker retried, the sweeper re-dispatched): nothing more leaves.
    for notice in Notice.objects.filter(key__startswith=f"group-mail:{first.pk}:"):
        assert notice.status == Notice.Status.SENT
        assert notice_deliver(notice_id=notice.pk) is None
        again = notice_send(
            key=notice.key,
            event="group_mail",
            channel="email",
            recipient=notice.recipient,
            template="group_mail",
            params=notice.params,
        )
        assert again.pk == notice.pk
    assert len(outbox.outbox) == 4
    assert Notice.objects.filter(key__startswith="group-mail:").count() == 4


def test_the_send_is_in_the_audit_log(group_secretary, guangdong, edition, units):
    sent = _send(group_secretary, guangdong, edition)
    entry = AuditEntry.objects.get(action="group_mail.send", object_id=str(sent.pk))
    assert entry.actor == group_secretary
    assert entry.data["recipients"] == 2


def test_nobody_writes_to_another_delegations_units(
    other_secretary, secretary, guangdong, edition, units
):
    with pytest.raises(PermissionDenied):
        _send(other_secretary, guangdong, edition)
    # A sub-delegation cannot write to its whole trade delegation either.
    with pytest.raises(PermissionDenied):
        _send(secretary, guangdong, edition)
    assert not GroupMail.objects.exists()
    assert not Notice.objects.exists()


def test_a_mail_needs_a_subject_and_a_message(group_secretary, guangdong, edition, units):
    with pytest.raises(ValidationError):
        _send(group_secretary, guangdong, edition, subject="  ")
    with pytest.raises(ValidationError):
        _send(group_secretary, guangdong, edition, unit_status="paid")
    assert not GroupMail.objects.exists()


# --- The page -------------------------------------------------------------------------------


def _row(content: str, group_mail) -> str:
    start = content.index(f'data-mail="{group_mail.pk}"')
    return content[start : content.index("</tr>", start)]


def test_the_page_sends_and_then_counts_what_was_sent(
    client, group_secretary, units, django_capture_on_commit_callbacks
):
    client.force_login(group_secretary)
    form = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")
    assert form.status_code == 200
    assert 'name="subject"' in form.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PAGE,
            {"subject": "展前说明会通知", "body": "请准时参加。", "unit_status": ""},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 302
    sent = GroupMail.objects.get()
    assert sent.created_by == group_secretary
    assert sent.delegation.code == "gd"
    assert len(outbox.outbox) == 2

    content = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = _row(content, sent)
    assert "展前说明会通知" in row
    assert '<td class="recipients">2</td>' in row
    assert '<td class="sent">2</td>' in row
    assert '<td class="failed">0</td>' in row


def test_the_sent_count_leaves_out_emails_still_queued(client, secretary, guangzhou, units):
    # No commit here: the notices stay queued.
    sent = _send(secretary, guangzhou, units["guangzhou"].edition)
    client.force_login(secretary)
    row = _row(client.get(PAGE).content.decode(), sent)
    assert '<td class="recipients">1</td>' in row
    assert '<td class="sent">0</td>' in row


def test_a_form_with_errors_sends_nothing(client, secretary, units):
    client.force_login(secretary)
    response = client.post(PAGE, {"subject": "", "body": "请准时参加。"})
    assert response.status_code == 200
    assert not GroupMail.objects.exists()
    assert not Notice.objects.exists()


def test_the_list_costs_the_same_queries_for_one_or_many_mails(
    client, secretary, guangzhou, edition, units, django_assert_max_num_queries
):
    _send(secretary, guangzhou, edition)
    client.force_login(secretary)
    with django_assert_max_num_queries(12) as one:
        client.get(PAGE)
    for _ in range(6):
        _send(secretary, guangzhou, edition)
    with django_assert_max_num_queries(len(one.captured_queries)):
        content = client.get(PAGE).content.decode()
    assert content.count('class="group-mail"') == 7


def test_a_secretary_sees_only_their_own_delegations_mails(
    client, secretary, other_secretary, guangzhou, edition, units
):
    ours = _send(secretary, guangzhou, edition, subject="广州分团专用通知")
    client.force_login(other_secretary)
    content = client.get(PAGE).content.decode()
    assert ours.subject not in content
    assert f'data-mail="{ours.pk}"' not in content


def test_an_organiser_chooses_the_delegation_to_write_to(
    client, organiser, other_delegation, units, django_capture_on_commit_callbacks
):
    client.force_login(organiser)
    assert 'name="subject"' not in client.get(PAGE).content.decode()

    url = f"{PAGE}?delegation={other_delegation.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"subject": "通知", "body": "请准时参加。"})
    assert response.status_code == 302
    assert response["Location"] == url
    sent = GroupMail.objects.get()
    assert sent.delegation == other_delegation
    assert [m.to for m in outbox.outbox] == [["zj@example.com"]]


def test_finance_and_unit_contacts_cannot_send(client, finance, contact, units):
    client.force_login(finance)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"subject": "x", "body": "y"}).status_code == 403
    client.force_login(contact)
    response = client.post(PAGE, {"subject": "x", "body": "y"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert not GroupMail.objects.exists()
