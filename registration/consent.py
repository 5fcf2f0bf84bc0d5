"""Consent under the PIPL (个人信息保护法): the one home of its rules.

* **The privacy policy.** A unit account accepts the version in force of its edition's policy
  (``ciie_portal.privacy``) when it registers (the entry page's box) and every newer version
  before it goes on: ``ConsentMiddleware`` sends a signed-in unit contact whose unit's edition
  has a published version the account has not accepted to the accept page. Each acceptance is
  a ``ConsentRecord`` (version, time, address, browser), written once. Staff are never asked;
  nothing is asked while no version is published.
* **Sensitive personal information** (PIPL art. 29: ID documents, face photos). Each visitor's
  separate consent is recorded on the visitor (``sensitive_consent_at``/``_by``): given by the
  contact on the visitor form or with the batch submission, or by the colleague joining by
  link. ``registration.services`` refuses to submit a visitor without it.
"""

from urllib.parse import urlencode

from django.db.models import Exists, OuterRef
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from ciie_portal.privacy import policy_in_force_now

from .limits import client_ip
from .models import ConsentRecord, Unit


def consent_record(*, user, policy, ip_address=None, user_agent: str = "") -> ConsentRecord:
    """Record that ``user`` accepted ``policy`` (a published version) now."""
    return ConsentRecord.objects.create(
        user=user,
        policy=policy,
        kind=ConsentRecord.Kind.POLICY,
        accepted_at=timezone.now(),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[: ConsentRecord.USER_AGENT_MAX],
    )


def request_origin(request) -> dict:
    """The address (behind the trusted proxies) and browser of a request, as recorded."""
    return {
        "ip_address": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
    }


#: Session key: "<user id>:<policy id>" once that user's acceptance of that version was seen,
#: so that later requests of the session ask the database nothing (an acceptance is never
#: withdrawn; a newer version has another id).
ACCEPTED_SESSION_KEY = "consent:accepted"


def policy_to_accept(user, session=None):
    """The current edition's policy version in force if ``user`` is a unit contact of that
    edition who has not accepted it yet; None otherwise (staff, no unit, nothing published,
    accepted). The version in force comes from the shared cache; at most one query, none once
    ``session`` (when given) has seen the acceptance."""
    if not user.is_authenticated or user.is_staff:
        return None
    policy = policy_in_force_now()
    if policy is None:
        return None
    seen = f"{user.pk}:{policy.pk}"
    if session is not None and session.get(ACCEPTED_SESSION_KEY) == seen:
        return None
    accepted = ConsentRecord.objects.filter(user=OuterRef("account"), policy=policy)
    units = list(
        Unit.objects.filter(account=user, edition_id=policy.edition_id)
        .annotate(accepted=Exists(accepted))
        .values_list("accepted", flat=True)[:1]
    )
    if not units:
        return None  # no unit of the edition (yet): asked again once there is one
    if units[0]:
        if session is not None:
            session[ACCEPTED_SESSION_KEY] = seen
        return None
    return policy


# Pages a contact reaches before accepting: the policy itself, the accept page, signing out,
# the language switch and the machines' endpoints.
OPEN_VIEWS = frozenset(
    {
        "privacy",
        "privacy_version",
        "consent:accept",
        "registration:logout",
        "set_language",
        "healthz",
        "readyz",
        "metrics",
        "csp_report",
    }
)


class ConsentMiddleware:
    """A unit contact accepts a newly published version of the privacy policy before any other
    page: they are sent to ``/privacy/accept/?next=<the page they asked for>``.

    Install after the authentication middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_staff
            and policy_to_accept(user, request.session) is not None
            and not self._open(request)  # resolving the address costs more: asked last
        ):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('consent:accept')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _open(request) -> bool:
        if request.path_info.startswith("/admin/"):
            return True
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return True
        return match.view_name in OPEN_VIEWS


def note_acceptance_at_sign_in(sender, request, user, **kwargs) -> None:
    """At sign-in, whether the contact accepted the version in force is asked once and kept in
    the new session, which the sign-in writes anyway: the first page after it then writes
    nothing. A contact who has not accepted is sent to accept by the middleware as before."""
    if request is not None and hasattr(request, "session"):
        policy_to_accept(user, request.session)
