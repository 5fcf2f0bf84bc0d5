"""单位人员加入 / 单位审核加入: colleagues fill in their own visitor record through the unit's
invite link, and the unit contact approves (or rejects) them.

* The contact's page (``join_invite``) shows the unit's personal link, its QR code (inline SVG,
  and a PNG to download) and the colleagues waiting for approval.
* The link (``join``) needs no login. It carries the unit and the edition, signed; it is good
  for 60 days. The colleague picks a person type, fills in the visitor form and saves: the
  record is stored as a saved (已保存) visitor of the unit with ``join_pending`` set, so it stays
  out of the unit's visitor lists until the contact approves it. Colleagues never see the
  unit's other visitors, and cannot submit: the contact submits, and takes the pledge, later.
* At most ``JOINS_PER_HOUR`` colleagues join one unit per hour, so that a leaked link cannot
  flood the unit with records.
"""

import io
from datetime import timedelta

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.models import Edition
from ciie_portal.windows import registration_window, registration_window_check

from .access import current_unit
from .forms_visitors import VisitorForm
from .models import ConsentBy, PersonType, Unit, Visitor
from .services import visitor_save
from .signals import colleagues_joined
from .views_visitors import attach_errors

JOIN_SALT = "unit-join"
JOIN_MAX_AGE = timedelta(days=60)
JOINS_PER_HOUR = 20


class JoinRefused(Exception):
    """The invite link cannot be used (now); ``status`` is the HTTP status of the page."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


# --- The link -------------------------------------------------------------------------------


def join_token(unit: Unit) -> str:
    return signing.dumps({"unit": unit.pk, "edition": unit.edition_id}, salt=JOIN_SALT)


def join_url(request, unit: Unit) -> str:
    return request.build_absolute_uri(reverse("registration:join", args=[join_token(unit)]))


def _qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error="m")


def _unit_of_token(token: str) -> Unit:
    """The unit an invite link names, if colleagues may still join it; JoinRefused otherwise."""
    try:
        payload = signing.loads(token, salt=JOIN_SALT, max_age=JOIN_MAX_AGE)
    except signing.SignatureExpired:
        raise JoinRefused(
            _("This invite link has expired. Ask your unit contact for a new one.")
        ) from None
    except signing.BadSignature:
        raise JoinRefused(
            _("This invite link is not valid. Check that it was copied completely.")
        ) from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("unit"), int)
        and isinstance(payload.get("edition"), int)
    ):
        raise JoinRefused(_("This invite link is not valid. Check that it was copied completely."))
    unit = (
        Unit.objects.select_related("edition")
        .filter(pk=payload["unit"], edition_id=payload["edition"])
        .first()
    )
    if unit is None:
        raise JoinRefused(_("This unit is no longer registered."), status=404)
    _refuse_closed(unit)
    return unit


def _refuse_closed(unit: Unit) -> None:
    """A rejected unit, one of an earlier expo, or an individual registration (个人: the
    registrant is its one visitor) takes no more colleagues."""
    current = Edition.objects.filter(is_current=True).values_list("pk", flat=True).first()
    if unit.edition_id != current:
        raise JoinRefused(_("This invite link is for an earlier expo."), status=404)
    if unit.kind == Unit.Kind.INDIVIDUAL:
        raise JoinRefused(
            _(
                "This is an individual registration: it registers only the registrant, so "
                "colleagues cannot join it. Ask your unit to register as a unit."
            ),
            status=403,
        )
    if unit.status == Unit.Status.REJECTED:
        raise JoinRefused(
            _("This unit's registration was not approved; colleagues can no longer join it."),
            status=404,
        )


def _recent_joins(unit: Unit) -> int:
    return Visitor.objects.filter(
        unit=unit, join_pending=True, created_at__gte=timezone.now() - timedelta(hours=1)
    ).count()


def _refuse_if_busy(unit: Unit) -> None:
    if _recent_joins(unit) >= JOINS_PER_HOUR:
        raise JoinRefused(
            _(
                "Too many colleagues joined this unit in the last hour. Please try again in an "
                "hour."
            ),
            status=429,
        )


# --- What the views do (services) -----------------------------------------------------------


def join_save(*, unit: Unit, values: dict, id_type: str, id_number: str, photo=None) -> Visitor:
    """Store a colleague's own record as a saved visitor awaiting the contact's approval, with
    the colleague's consent to processing their ID document and face photo (the form asks it).

    Only inside the registration window (``ciie_portal.windows``): a ValidationError says so."""
    registration_window_check(edition=unit.edition, actor=None)
    with transaction.atomic():
        # The unit row is locked so that the hourly limit holds against simultaneous joins
        # and a unit rejected a moment ago takes nobody.
        locked = Unit.objects.select_for_update().select_related("edition").get(pk=unit.pk)
        _refuse_closed(locked)
        _refuse_if_busy(locked)
        visitor = visitor_save(
            unit=locked,
            actor=None,
            values=values,
            id_type=id_type,
            id_number=id_number,
            photo=photo,
            sensitive_consent=ConsentBy.COLLEAGUE,
        )
        Visitor.objects.filter(pk=visitor.pk).update(join_pending=True)
        visitor.join_pending = True
        audit_record(actor=None, obj=visitor, action="visitor.join_request")
    return visitor


def join_approve(*, unit: Unit, visitor_ids, actor) -> list[Visitor]:
    """The contact accepts colleagues: they become ordinary visitors of the unit."""
    with transaction.atomic():
        chosen = list(
            Visitor.objects.select_for_update().filter(
                unit=unit, pk__in=visitor_ids, join_pending=True
            )
        )
        Visitor.objects.filter(pk__in=[v.pk for v in chosen]).update(
            join_pending=False, updated_at=timezone.now()
        )
        audit_record_bulk(actor=actor, objects=chosen, action="visitor.join_approve")
        colleagues_joined.send(sender=Unit, unit=unit, visitors=chosen)
    return chosen


def join_reject(*, unit: Unit, visitor_ids, actor) -> list[Visitor]:
    """The contact refuses colleagues: their records (and photos) are deleted."""
    with transaction.atomic():
        chosen = list(
            Visitor.objects.select_for_update().filter(
                unit=unit, pk__in=visitor_ids, join_pending=True, status=Visitor.Status.SAVED
            )
        )
        audit_record_bulk(
            actor=actor,
            objects=chosen,
            action="visitor.join_reject",
            from_state=Visitor.Status.SAVED,
        )
        Visitor.objects.filter(pk__in=[v.pk for v in chosen]).delete()
        # The photo is personal data of someone the unit turned away: remove the file too,
        # once the rows are really gone.
        for visitor in chosen:
            if visitor.photo:
                transaction.on_commit(lambda photo=visitor.photo: photo.storage.delete(photo.name))
    return chosen


# --- The contact's pages --------------------------------------------------------------------


@login_required
@never_cache
@require_GET
def join_invite_view(request):
    unit = current_unit(request)
    if unit.kind == Unit.Kind.INDIVIDUAL:
        # 个人注册: no invite link at all; the page says why.
        return render(request, "registration/join_invite.html", {"unit": unit, "individual": True})
    url = join_url(request, unit)
    pending = (
        Visitor.objects.filter(unit=unit, join_pending=True)
        .select_related("entry_period")
        .order_by("created_at", "pk")
    )
    return render(
        request,
        "registration/join_invite.html",
        {
            "unit": unit,
            "join_url": url,
            # segno writes only path data and sizes: nothing from the URL is in the markup.
            "qr_svg": mark_safe(_qr_code(url).svg_inline(scale=4)),
            "pending": pending,
            "closed": unit.status == Unit.Status.REJECTED,
            "individual": unit.kind == Unit.Kind.INDIVIDUAL,
            "window": registration_window(unit.edition),
        },
    )


@login_required
@never_cache
@require_GET
def join_qr_view(request):
    unit = current_unit(request)
    if unit.kind == Unit.Kind.INDIVIDUAL:
        raise Http404
    buffer = io.BytesIO()
    _qr_code(join_url(request, unit)).save(buffer, kind="png", scale=8)
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Content-Disposition"] = 'attachment; filename="join-qr.png"'
    return response


@login_required
@require_POST
def join_approve_view(request):
    """Approve or reject the selected colleagues (only this unit's pending ones count)."""
    unit = current_unit(request)
    ids = [int(pk) for pk in request.POST.getlist("visitor") if pk.isdigit()]
    reject = request.POST.get("action") == "reject"
    if not ids:
        messages.error(request, _("Select the colleagues first."))
    elif reject:
        done = join_reject(unit=unit, visitor_ids=ids, actor=request.user)
        messages.success(
            request, _("%(count)d colleague(s) rejected and deleted.") % {"count": len(done)}
        )
    else:
        done = join_approve(unit=unit, visitor_ids=ids, actor=request.user)
        messages.success(
            request,
            _("%(count)d colleague(s) approved; they are now in the visitor list.")
            % {"count": len(done)},
        )
    return redirect("registration:join_invite")


# --- The colleague's page (no login) --------------------------------------------------------


def _join_form(request, unit: Unit, person_type: str) -> VisitorForm:
    form = VisitorForm(
        request.POST or None,
        request.FILES or None,
        unit=unit,
        person_type=person_type,
        instance=Visitor(unit=unit, edition=unit.edition, person_type=person_type),
    )
    # Colleagues only save their record; the contact takes the pledge when submitting it.
    # The consent to processing their ID document and photo is the colleague's own.
    del form.fields["pledge"]
    form.consent_by_colleague()
    # The unit's addresses without recipient and mobile: those are not the colleague's to see.
    form.fields["address"].label_from_instance = lambda address: address.address
    return form


def _refused(request, refusal: JoinRefused, unit: Unit | None = None):
    return render(
        request,
        "registration/join_form.html",
        {"refusal": refusal.message, "unit": unit},
        status=refusal.status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def join_view(request, token):
    try:
        unit = _unit_of_token(token)
    except JoinRefused as refusal:
        return _refused(request, refusal)
    if request.method == "GET" and request.GET.get("done"):
        return render(request, "registration/join_done.html", {"unit": unit})
    window = registration_window(unit.edition)
    if request.method == "GET" and not window.is_open:
        # A form opened before closing still posts: the refusal then comes next to it.
        return _refused(request, JoinRefused(window.message, status=403), unit)
    try:
        _refuse_if_busy(unit)
    except JoinRefused as refusal:
        return _refused(request, refusal, unit)
    person_type = request.GET.get("type", "")
    if person_type not in PersonType.values:
        return render(
            request,
            "registration/join_form.html",
            {"unit": unit, "token": token, "person_types": PersonType.choices},
        )
    form = _join_form(request, unit, person_type)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        photo = data.get("photo")
        try:
            join_save(
                unit=unit,
                values={
                    **{
                        k: v
                        for k, v in data.items()
                        if k not in ("photo", "id_number", "sensitive_consent")
                    },
                    "person_type": person_type,
                },
                id_type=data["id_type"],
                id_number=data["id_number"],
                photo=photo if photo and hasattr(photo, "read") else None,
            )
        except JoinRefused as refusal:
            return _refused(request, refusal, unit)
        except ValidationError as error:
            attach_errors(form, error)
        else:
            return redirect(reverse("registration:join", args=[token]) + "?done=1")
    return render(
        request,
        "registration/join_form.html",
        {
            "unit": unit,
            "token": token,
            "form": form,
            "person_type": person_type,
            "person_type_label": PersonType(person_type).label,
        },
    )
