"""Private files — photos, licences, vouchers, bank statements, cards — as responses.

Every view that serves one checks first who may see it; this is the one way the response is
made, so none forgets that such a file is never kept by a browser or a proxy
(``Cache-Control: private, no-store``) and that a missing file is a 404, not a 500.
"""

from django.http import FileResponse, Http404

TYPES = {"png": "image/png", "pdf": "application/pdf", "csv": "text/csv"}


def content_type_of(name: str) -> str:
    """By the stored name's extension; photos and scans are JPEG otherwise."""
    return TYPES.get(name.rsplit(".", 1)[-1].lower(), "image/jpeg")


def private_file_response(
    field_file, *, content_type: str | None = None, filename: str | None = None,
    as_attachment: bool = False,
) -> FileResponse:  # fmt: skip
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(
        handle,
        content_type=content_type or content_type_of(field_file.name),
        as_attachment=as_attachment,
        filename=filename or "",
    )
    response["Cache-Control"] = "private, no-store"
    return response
