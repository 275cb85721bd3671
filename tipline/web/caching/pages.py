"""The ``public_page`` decorator: validators, 304s and kept copies for a public view.

For GET and HEAD the content version is read first (``versions``); a conditional request that
still matches gets a 304 without the view running; otherwise a copy kept per (URL, language)
for the same ETag is sent, or the view renders and its answer is kept (``store``). A request
that carries a session cookie is answered ``private, no-cache``, rendered afresh (its page may
hold a flashed message) and never kept; nor is a response marked ``no-store`` or setting a
cookie. While the database is out, the last good copy beats an error page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, make_response, request
from werkzeug.http import is_resource_modified
from werkzeug.wrappers import Response

from tipline import db
from tipline.web import outage

from . import validators
from .replay import KEEP_HEADERS
from .store import (
    StoredPage,
    VersionOf,
    carries_session,
    page_key,
    request_language,
    store_of,
)
from .versions import versions_of


def _keepable(response: Response) -> bool:
    cache_control = response.headers.get("Cache-Control", "")
    return (
        response.status_code == 200
        and "no-store" not in cache_control
        and "Set-Cookie" not in response.headers
        and not response.is_streamed
    )


def public_page(version_of: VersionOf) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Cache a public view's answers, keyed on ``version_of(connection, **view_args)``.

    ``version_of`` returns None when the page is not public: the view then answers as it
    would (usually 404) and nothing is cached.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def cached_view(**view_args: Any) -> Any:
            if request.method not in ("GET", "HEAD"):
                return view(**view_args)
            try:
                return answer(**view_args)
            except outage.OUTAGE_ERRORS:
                # The database is unreachable or too slow: the last good copy this process
                # holds, whatever its version, beats an error page. None: the 503 page.
                kept = store_of(current_app).peek(page_key(request.environ, request_language()))
                if kept is None:
                    raise
                outage.drop_session()
                headers = {"Cache-Control": "no-cache", "Vary": validators.VARY}
                return Response(kept.body, content_type=kept.content_type, headers=headers)

        def answer(**view_args: Any) -> Any:
            db.read_only_request()
            version = versions_of(current_app).read(version_of, view_args)
            if version is None:
                return view(**view_args)
            store = store_of(current_app)
            language = request_language()
            private = carries_session()
            etag = validators.etag(store.release, language, version)
            headers = validators.cache_headers(etag, version, private)
            if not is_resource_modified(
                request.environ, etag=etag, last_modified=version.last_modified
            ):
                return Response(status=304, headers=headers)
            key = page_key(request.environ, language)
            if not private:
                page = store.get(key, etag)
                if page is not None:
                    return Response(page.body, content_type=page.content_type, headers=headers)
            response = make_response(view(**view_args))
            if not _keepable(response):
                return response
            response.headers.update(headers)
            if not private:
                page = StoredPage(
                    etag,
                    response.get_data(),
                    response.content_type,
                    version_of,
                    tuple(sorted(view_args.items())),
                    version.stamp,
                )
                store.put(key, page)
                if request.method == "GET":
                    request.environ[KEEP_HEADERS] = (key, etag)
            return response

        return cached_view

    return decorate
