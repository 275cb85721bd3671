"""Requests refused before any view runs, with a plain page instead of a server error:
an oversized or malformed Host header (431/400), NUL characters in the query string or in
form fields (400), and integers in URLs beyond what the database's ids hold (404).

Each of these once reached the database or the URL machinery and answered 500; a 500 also
logged the request's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

#: The largest id a PostgreSQL ``integer`` column holds.
MAX_ID = 2**31 - 1
MAX_HOST = 255
_HOST = re.compile(r"\A(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?\Z")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""
_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
]


class BoundedInt(IntegerConverter):
    """``<int:...>`` that matches no number above an id's range: a 404, not an overflow."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def host_problem(host: str) -> int | None:
    """431 for a Host header too long to be a name, 400 for one that is not a host name."""
    if len(host) > MAX_HOST:
        return 431
    match = _HOST.match(host)
    if host and not match:
        return 400
    name = match.group(1) if match else ""
    if not name.startswith("[") and any(len(label) > 63 for label in name.split(".")):
        return 400
    return None


class RequestGuard:
    """WSGI middleware: refuse a bad Host before Flask builds its URL adapter from it."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        status = host_problem(environ.get("HTTP_HOST", ""))
        if status is None:
            return self.wsgi_app(environ, start_response)
        if status == 431:
            title, text, line = (
                "The request was too large",
                "Its headers were longer than any address we serve. Please check the address.",
                "431 Request Header Fields Too Large",
            )
        else:
            title, text, line = (
                "The request could not be read",
                "Please check the address you typed and try again.",
                "400 Bad Request",
            )
        body = _PAGE.format(title=title, text=text).encode()
        start_response(line, [*_HEADERS, ("Content-Length", str(len(body)))])
        return [body]


def refuse_nul_characters() -> None:
    """A NUL in the query or a form field is never text anyone typed; PostgreSQL cannot store
    it. Refused inside Flask, so the 400 has the page's own form (JSON under /api/)."""
    if b"\x00" in unquote_to_bytes(request.query_string):
        abort(400)
    if request.method == "POST" and any("\x00" in v for v in request.form.values()):
        abort(400)


def init_app(app: Flask) -> None:
    """Call before the blueprints are registered (the converter is read as rules are added)."""
    app.url_map.converters["int"] = BoundedInt
    app.before_request(refuse_nul_characters)


def wrap(app: Flask) -> None:
    """Call last in create_app: the guard is the outermost layer."""
    app.wsgi_app = RequestGuard(app.wsgi_app)  # type: ignore[method-assign]
