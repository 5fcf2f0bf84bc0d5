"""The emails of meetings (洽谈预约), each sent once, after the commit of the change that caused
it (``ciie_portal.notices``: never after a rollback):

- a unit asks for a meeting → the exhibitor's contact, with the exhibitor's signed link to
  answer (``meeting:<pk>:requested``);
- the exhibitor or the organiser confirms or declines it → the unit's contact
  (``meeting:<pk>:confirmed`` / ``…:declined``);
- the unit cancels it → the exhibitor's contact (``meeting:<pk>:cancelled``).

A meeting reaches each state at most once, so its key per state makes each notice once. The
exhibitor's emails are in Chinese for exhibitors from China (Hong Kong, Macao and Taiwan
included) and in English for the others; the unit's in the portal's language (Chinese)."""

from django.conf import settings

from ciie_portal.notices.services import notices_send

from .meeting_links import exhibitor_path

CHINESE_SPEAKING = {"", "CN", "HK", "MO", "TW"}


def _params(meeting) -> dict:
    exhibitor, unit = meeting.exhibitor, meeting.unit
    return {
        "exhibitor": exhibitor.name,
        "exhibitor_en": exhibitor.name_en,
        "unit": unit.name,
        "day": meeting.day.isoformat(),
        "slot": meeting.slot,
        "hall": exhibitor.hall,
        "booth": exhibitor.booth,
        "message": meeting.message,
    }


def _exhibitor_language(exhibitor) -> str:
    return settings.LANGUAGE_CODE if str(exhibitor.country or "") in CHINESE_SPEAKING else "en"


def _to_exhibitor(meeting, language: str) -> dict:
    """The parameters of an email to the exhibitor, its name as it reads it."""
    params = _params(meeting)
    if language == "en" and meeting.exhibitor.name_en:
        params["exhibitor"] = meeting.exhibitor.name_en
    return params


def _email(meeting, kind: str, recipient: str, params: dict, language: str) -> list[dict]:
    if not recipient:
        return []
    return [
        {
            "key": f"meeting:{meeting.pk}:{kind}",
            "event": f"meeting_{kind}",
            "channel": "email",
            "recipient": recipient,
            "template": f"meeting_{kind}",
            "params": params,
            "language": language,
        }
    ]


def meeting_requested(meeting, *, link_base: str = "") -> None:
    exhibitor = meeting.exhibitor
    language = _exhibitor_language(exhibitor)
    params = {
        **_to_exhibitor(meeting, language),
        "link": link_base.rstrip("/") + exhibitor_path(exhibitor),
    }
    notices_send(_email(meeting, "requested", exhibitor.contact_email, params, language))


def meeting_answered(meeting) -> None:
    """Confirmed or declined (the meeting's status says which)."""
    notices_send(
        _email(
            meeting,
            str(meeting.status),
            meeting.unit.contact_email,
            _params(meeting),
            settings.LANGUAGE_CODE,
        )
    )


def meeting_cancelled(meeting) -> None:
    exhibitor = meeting.exhibitor
    language = _exhibitor_language(exhibitor)
    notices_send(
        _email(
            meeting,
            "cancelled",
            exhibitor.contact_email,
            _to_exhibitor(meeting, language),
            language,
        )
    )
