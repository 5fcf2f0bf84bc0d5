"""群发邮件: a secretariat writes one email to the units of its delegation subtree."""

from functools import reduce
from operator import or_

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from ciie_portal.audit import audit_record
from ciie_portal.models import Notice
from ciie_portal.notices.services import notice_send
from registration.models import Unit

from .models import Delegation, GroupMail
from .selectors import in_subtree, is_organiser

EVENT = "group_mail"


def notice_key_prefix(mail: GroupMail | int) -> str:
    """Every notice of one group mail has a key starting with this; one unit, one key."""
    pk = mail if isinstance(mail, int) else mail.pk
    return f"group-mail:{pk}:"


def may_mail(user, delegation: Delegation) -> bool:
    """Organisers write to any delegation; a secretary to their node or one of its children."""
    if is_organiser(user):
        return True
    secretary = getattr(user, "secretary", None)
    if secretary is None or not user.has_perm("registration.change_unit"):
        return False
    node = secretary.delegation_id
    return delegation.pk == node or delegation.parent_id == node


def group_mail_send(
    *, user, delegation: Delegation, edition, subject: str, body: str, unit_status: str = ""
) -> GroupMail:
    """Record a group mail and queue one email per unit of the subtree that has an address.

    Only units of ``edition`` are written to, and only those in ``unit_status`` when one is
    given. Each email is a notice keyed ``group-mail:<mail>:<unit>``: however often its delivery
    is retried, a unit gets that mail once. The emails leave after the transaction commits.
    """
    subject = " ".join(subject.split())
    body = body.strip()
    if not subject or not body:
        raise ValidationError(_("Write a subject and a message."))
    if unit_status and unit_status not in Unit.Status.values:
        raise ValidationError(_("Choose a unit status from the list."))
    if not may_mail(user, delegation):
        raise PermissionDenied
    with transaction.atomic():
        mail = GroupMail.objects.create(
            edition=edition,
            delegation=delegation,
            subject=subject,
            body=body,
            unit_status=unit_status,
            created_by=user,
        )
        units = (
            in_subtree(Unit.objects.filter(edition=edition), delegation)
            .exclude(contact_email="")
            .order_by("pk")
            .only("pk", "name", "contact_email")
        )
        if unit_status:
            units = units.filter(status=unit_status)
        prefix = notice_key_prefix(mail)
        recipients = 0
        for unit in units:
            notice_send(
                key=f"{prefix}{unit.pk}",
                event=EVENT,
                channel="email",
                recipient=unit.contact_email,
                template="group_mail",
                params={
                    "subject": subject,
                    "body": body,
                    "unit": unit.name,
                    "delegation": delegation.name,
                },
            )
            recipients += 1
        mail.recipients = recipients
        mail.save(update_fields=["recipients"])
        audit_record(
            actor=user,
            obj=mail,
            action="group_mail.send",
            data={
                "delegation": delegation.pk,
                "edition": edition.pk,
                "unit_status": unit_status,
                "recipients": recipients,
            },
        )
    return mail


def group_mail_delivery_counts(mails) -> dict[int, tuple[int, int]]:
    """(sent, failed) emails of each mail, for a whole list in one query.

    The WHERE clause is a few key prefixes, which the index on the notice key serves.
    """
    pks = [mail.pk for mail in mails]
    if not pks:
        return {}
    aggregates = {}
    for pk in pks:
        prefix = notice_key_prefix(pk)
        aggregates[f"sent_{pk}"] = Count(
            "pk", filter=Q(key__startswith=prefix, status=Notice.Status.SENT)
        )
        aggregates[f"failed_{pk}"] = Count(
            "pk", filter=Q(key__startswith=prefix, status=Notice.Status.FAILED)
        )
    in_lists = reduce(or_, (Q(key__startswith=notice_key_prefix(pk)) for pk in pks))
    row = Notice.objects.filter(
        in_lists, status__in=[Notice.Status.SENT, Notice.Status.FAILED]
    ).aggregate(**aggregates)
    return {pk: (row[f"sent_{pk}"], row[f"failed_{pk}"]) for pk in pks}
