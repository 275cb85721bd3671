"""WSGI replay: a plain GET (no cookie, no condition) of a kept public page whose version is
known to be current without a query is answered from memory, with the status, headers and body
Flask sent the first time, without entering Flask at all. Everything else goes to Flask, whose
answers the ``public_page`` decorator marked keepable are kept with their final headers
(security headers included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from flask import Flask

from tipline import i18n

from .store import StoredPage, page_key, store_of
from .versions import UNKNOWN, versions_of

#: WSGI environ key: set by the decorator when Flask's answer may be kept with its headers.
KEEP_HEADERS = "tipline.page_cache.keep"
CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_RANGE")


def _language(environ: dict[str, Any]) -> str:
    """The language of a plain GET, from its query and Accept-Language as i18n decides it;
    the default language for a path whose language is not the negotiated one (staff, API)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(("/staff", "/api/")):
        return i18n.DEFAULT_LOCALE
    chosen = parse_qs(environ.get("QUERY_STRING", "")).get(i18n.QUERY_PARAM, [""])[0].lower()
    if chosen in i18n.LOCALES:
        return chosen
    return i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE"))


class FastPublicPages:
    """WSGI middleware around the app's ``wsgi_app`` (see the module's docstring)."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Any]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def _from_memory(self, environ: dict[str, Any]) -> StoredPage | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_COOKIE" in environ:
            return None
        if any(name in environ for name in CONDITIONAL):
            return None
        page = store_of(self.app).peek(page_key(environ, _language(environ)))
        if page is None or page.wsgi_headers is None or page.version_of is None:
            return None
        version = versions_of(self.app).remembered(page.version_of, dict(page.view_args))
        if version is UNKNOWN or version is None or version.stamp != page.stamp:
            return None
        return page

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        page = self._from_memory(environ)
        if page is not None:
            start_response("200 OK", list(page.wsgi_headers or ()))
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [page.body]
        sent: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            sent["status"], sent["headers"] = status, headers
            return start_response(status, headers, exc_info)

        answer = self.wsgi_app(environ, capture)
        keep = environ.get(KEEP_HEADERS)
        if keep is None:
            return answer
        headers = sent.get("headers", [])
        if not sent.get("status", "").startswith("200") or any(
            name.lower() == "set-cookie" for name, _ in headers
        ):
            return answer
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        key, etag = keep
        store = store_of(self.app)
        page = store.peek(key)
        if page is not None and page.body == body:
            store.attach_headers(key, etag, headers)
        return [body]
