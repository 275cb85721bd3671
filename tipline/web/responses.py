"""What every response carries: security headers, and plain error pages that leak nothing."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

from flask import Flask, abort, render_template, request, send_file
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from tipline.web import limits
from tipline.web.api import error_response

CSP = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

#: For files staff download (tip photos, exports): nothing in them may run, even if a browser
#: were talked into rendering one instead of saving it.
ATTACHMENT_CSP = "default-src 'none'; sandbox"

ERROR_TEXT = {
    400: (
        _l("The form could not be read"),
        _l("Please go back, check what you typed and try again."),
    ),
    403: (_l("You cannot open this page"), _l("Your account does not give access to this page.")),
    404: (_l("Page not found"), _l("The page may have moved or the address may be mistyped.")),
    405: (_l("That did not work"), _l("Please go back and use the buttons on the page.")),
    413: (
        _l("That was too large"),
        _l("Please send fewer or smaller photos (each under 8 MB) and try again."),
    ),
    429: (
        _l("Please wait a few minutes"),
        _l(
            "Too many forms were sent from this connection in a short time, so this one was not "
            "accepted and nothing in it was kept. Please wait a few minutes and try again, or "
            "phone one of the numbers on the notice. If someone is in danger, call the emergency "
            "number below."
        ),
    ),
    500: (
        _l("Something went wrong on our side"),
        _l("Nothing you did caused this. Please try again in a minute."),
    ),
}


#: For images we serve: nothing in them may run, load or be framed if opened directly.
IMAGE_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox"


def image_response(data: bytes, mime: str) -> Response:
    """An image we re-encoded ourselves, with its real type, ``nosniff`` and a sandboxing CSP."""
    response = Response(data, mimetype=mime)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = IMAGE_CSP
    return response


def refuse_unnamed_form_fields() -> None:
    """A multipart part without a name reaches ``request.form`` under the key None, which
    Flask-WTF's CSRF check cannot handle (a 500). Browsers never send one: refuse with 400."""
    multipart = request.method == "POST" and request.mimetype == "multipart/form-data"
    if multipart and (None in request.form or None in request.files):
        abort(400)


def security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "same-origin"
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    host = request.host.split(":")[0] if request else ""
    if request.is_secure and not host.endswith(".onion"):
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.path.startswith("/staff/"):
        # Staff pages, their errors and redirects included, never sit in a cache.
        h["Cache-Control"] = "no-store"
    return response


def attachment(data: bytes, filename: str, mimetype: str) -> Response:
    """A staff-side download: saved, never shown inline; no sniffing; sandboxed; not cached.

    Call it for every file a staff member downloads (tip photos, exports)."""
    response = send_file(
        BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=filename,
        max_age=0,
        etag=False,
        last_modified=None,
    )
    response.headers["Content-Security-Policy"] = ATTACHMENT_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(code: int, title: object, text: object) -> tuple[str, int]:
    return render_template("error.html", code=code, title=title, text=text), code


#: Forms that, when a rate limit refuses them, are shown again with what was typed and a
#: wait message instead of the plain 429 page: endpoint -> a function rendering it (429).
_KEPT_ON_429: dict[str, Callable[[], Response]] = {}


def keep_form_on_429(endpoint: str, render: Callable[[], Response]) -> None:
    """Register ``render`` to answer a rate-limited POST to ``endpoint`` with its form."""
    _KEPT_ON_429[endpoint] = render


def handle_http_error(error: HTTPException) -> tuple[str, int] | HTTPException | Response:
    code = error.code or 500
    if code < 400:
        return error
    if code == 429 and request.method == "POST" and request.endpoint in _KEPT_ON_429:
        response = _KEPT_ON_429[request.endpoint]()
        for name, value in error.get_headers():  # Retry-After, when the limiter gives one
            if name.lower() == "retry-after":
                response.headers[name] = value
        if "Retry-After" not in response.headers:
            # The limiter's own headers are off (config.py): say when to try again here.
            wait = limits.retry_after()
            if wait is not None:
                response.headers["Retry-After"] = str(wait)
        return response
    if request.path.startswith("/api/"):
        return _api_error(error, code)
    title, text = ERROR_TEXT.get(code, ERROR_TEXT[500] if code >= 500 else ERROR_TEXT[400])
    return _error_page(code, title, text)


def _api_error(error: HTTPException, code: int) -> Response:
    """Errors under /api/ are JSON for programs: the framework's own message (a 400 says which
    parameter), keeping headers such as ``Allow`` on a 405."""
    message = (
        error.description
        if code == 400 and error.description
        else str(ERROR_TEXT.get(code, ERROR_TEXT[500] if code >= 500 else ERROR_TEXT[400])[0]) + "."
    )
    response = error_response(code, message)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_csrf_error(_error: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        gettext("This form has expired"),
        gettext(
            "For your safety, forms expire after a few hours or when cookies are blocked. "
            "Please go back, reload the page and send it again. Nothing was sent."
        ),
    )


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
