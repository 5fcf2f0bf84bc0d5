import json
import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

csp_logger = logging.getLogger("ciie_portal.csp")

# A browser's violation report is well under 2 KB; anything much larger is not one.
CSP_REPORT_MAX_BYTES = 16 * 1024
# At most this many reports of one request are logged (the Reporting API batches them).
CSP_REPORTS_PER_REQUEST = 20


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: the emblem, for a year."""
    response = redirect(static("img/favicon.svg"), permanent=True)
    response["Cache-Control"] = "public, max-age=31536000"
    return response


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@csrf_exempt
@require_POST
def csp_report(request):
    """Content-Security-Policy violation reports, one WARNING line each, answered 204.

    Browsers post them without cookies or CSRF token, as ``application/csp-report``
    (``{"csp-report": {...}}``, from ``report-uri``) or ``application/reports+json`` (a list of
    ``{"type": "csp-violation", "body": {...}}``, from the Reporting API). Bodies over 16 KB are
    refused unread (413); what is not such a report is refused with 400.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    body = request.read(CSP_REPORT_MAX_BYTES + 1)
    if len(body) > CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    try:
        reports = _csp_reports(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return HttpResponse(status=400)
    if not reports:
        return HttpResponse(status=400)
    for report in reports[:CSP_REPORTS_PER_REQUEST]:
        csp_logger.warning(
            "CSP violation: directive=%s blocked=%s document=%s source=%s",
            *(_clean(report.get(key)) for key in ("directive", "blocked", "document", "source")),
        )
    return HttpResponse(status=204)


def _csp_reports(data) -> list[dict]:
    """The reports in a ``report-uri`` or Reporting API body, with the same keys for both."""
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        report = data["csp-report"]
        return [
            {
                "directive": report.get("effective-directive") or report.get("violated-directive"),
                "blocked": report.get("blocked-uri"),
                "document": report.get("document-uri"),
                "source": _place(
                    report.get("source-file"),
                    report.get("line-number"),
                    report.get("column-number"),
                ),
            }
        ]
    if isinstance(data, list):
        return [
            {
                "directive": body.get("effectiveDirective"),
                "blocked": body.get("blockedURL"),
                "document": body.get("documentURL") or item.get("url"),
                "source": _place(
                    body.get("sourceFile"), body.get("lineNumber"), body.get("columnNumber")
                ),
            }
            for item in data
            if isinstance(item, dict)
            and item.get("type") == "csp-violation"
            and isinstance(body := item.get("body"), dict)
        ]
    return []


def _place(source, line, column) -> str | None:
    if not source:
        return None
    return ":".join(str(part) for part in (source, line, column) if part not in (None, ""))


def _clean(value, limit: int = 300) -> str:
    """One printable line of at most ``limit`` characters, whatever the browser (or anyone
    posting here) sent."""
    if value in (None, ""):
        return "-"
    text = str(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "…"
