"""HTTP caching of public pages that show no tip data: notices, the gallery, feeds, the API.

A view opts in with one line, naming how to read its content version from the database::

    @bp.get("/notices/<slug>")
    @caching.public_page(versions.notice_version)
    def notice(slug): ...

Then, for GET and HEAD:

* the version is read first (one cheap query, ``tipline.notices.versions``); the ETag is a
  digest of it, the URL, the language and the release (templates, package version, the
  settings the pages print), and Last-Modified is the content's newest change;
* a conditional request that still matches (If-None-Match, or If-Modified-Since alone) gets a
  304 without the view running or a template being rendered;
* otherwise a rendered copy kept in this process's memory per (URL, language) is sent if it was
  made for the same ETag; if not, the view renders and the copy is replaced. Because the
  version comes from the database on every request, a change committed through any app server
  invalidates the copies on all of them at their next request;
* responses carry ``Cache-Control: public, max-age=60, stale-while-revalidate=300`` and
  ``Vary: Accept-Language, Cookie``.

A request that carries a session cookie (staff, or a tipster who has opened a form) is answered
``private, no-cache``, is rendered afresh (its page may hold a flashed message) and its copy is
never kept, in memory or, by the headers, in a shared cache. Pages that show tip data or forms
with CSRF tokens (the tip form, the receipt) do not use this decorator and stay ``no-store``;
a response marked ``no-store`` or setting a cookie is never kept either.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import Flask, current_app, make_response, request
from sqlalchemy import make_url
from werkzeug.http import http_date, is_resource_modified
from werkzeug.wrappers import Response

from tipline import db
from tipline.notices.versions import ContentVersion

PUBLIC_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
PRIVATE_CACHE_CONTROL = "private, no-cache"
VARY = "Accept-Language, Cookie"
EXTENSION = "tipline.page_cache"
VERSIONS = "tipline.page_versions"

#: Settings printed on public pages: changing one must change every ETag.
RELEASE_SETTINGS = ("AGENCY_NAME", "EMERGENCY_NUMBER", "LANGUAGES")

VersionOf = Callable[..., ContentVersion | None]


@dataclass(frozen=True)
class StoredPage:
    etag: str
    body: bytes
    content_type: str


class PageStore:
    """Rendered public pages of one process, least recently used dropped first."""

    def __init__(self, release: str, max_entries: int) -> None:
        self.release = release
        self.max_entries = max_entries
        self._pages: OrderedDict[tuple[str, str], StoredPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], etag: str) -> StoredPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.etag != etag:  # the content changed since it was rendered
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: tuple[str, str], page: StoredPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)

    def entries(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._pages)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


class VersionReader:
    """Reads a page's version stamp from the database; on SQLite, skips the query while the
    database has not changed at all.

    ``PRAGMA data_version`` on a connection of this process's own, which never writes, changes
    whenever any other connection (another worker, another server on the same file, or this
    process's request sessions) commits. While it stands still, the versions read since the
    last change are still exact, so the check costs one pragma instead of one query. On other
    databases every request runs the stamp query (``db.single_read()``).
    """

    MAX_REMEMBERED = 1024

    def __init__(self, sqlite_path: str | None) -> None:
        self._path = sqlite_path
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._connection: sqlite3.Connection | None = None
        self._counter: int | None = None
        self._versions: dict[tuple[Any, ...], ContentVersion | None] = {}

    def _data_version(self) -> int:
        if self._connection is None or self._pid != os.getpid():  # none survives a fork
            self._connection = sqlite3.connect(self._path, check_same_thread=False, timeout=15)
            self._pid = os.getpid()
        return self._connection.execute("PRAGMA data_version").fetchone()[0]

    def read(self, version_of: VersionOf, view_args: dict[str, Any]) -> ContentVersion | None:
        if self._path is None:
            with db.single_read() as connection:
                return version_of(connection, **view_args)
        key = (version_of, *sorted(view_args.items()))
        with self._lock:
            counter = self._data_version()
            if counter != self._counter or len(self._versions) > self.MAX_REMEMBERED:
                self._versions.clear()
                self._counter = counter
            elif key in self._versions:
                return self._versions[key]
        with db.single_read() as connection:
            version = version_of(connection, **view_args)
        with self._lock:
            # Kept under the counter read before the query: a commit in between moves the
            # counter, and the next request reads again.
            if self._counter == counter:
                self._versions[key] = version
        return version


def _sqlite_path(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def release_stamp(app: Flask) -> str:
    """A digest of what, besides the content, shapes a public page on this release."""
    digest = hashlib.sha256()
    with contextlib.suppress(metadata.PackageNotFoundError):  # a plain checkout has none
        digest.update(metadata.version("tipline").encode())
    for name in RELEASE_SETTINGS:
        digest.update(f"{name}={app.config.get(name)!r};".encode())
    if app.template_folder:
        root = Path(app.root_path, app.template_folder)
        for path in sorted(root.rglob("*.html")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def request_language() -> str:
    """The page language for this request, from the languages the site offers."""
    offered = current_app.config.get("LANGUAGES") or ("en",)
    if len(offered) == 1:
        return offered[0]
    return request.accept_languages.best_match(offered, default=offered[0])


def carries_session() -> bool:
    """Whether the request sent a session cookie (staff signed in, or a tipster mid-form)."""
    return current_app.session_interface.get_cookie_name(current_app) in request.cookies


def _etag(store: PageStore, language: str, version: ContentVersion) -> str:
    source = "\n".join([store.release, request.full_path, language, version.stamp])
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def _cache_headers(etag: str, version: ContentVersion, private: bool) -> dict[str, str]:
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": PRIVATE_CACHE_CONTROL if private else PUBLIC_CACHE_CONTROL,
        "Vary": VARY,
    }
    if version.last_modified is not None:
        headers["Last-Modified"] = http_date(version.last_modified)
    return headers


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
            db.read_only_request()
            version = current_app.extensions[VERSIONS].read(version_of, view_args)
            if version is None:
                return view(**view_args)
            store: PageStore = current_app.extensions[EXTENSION]
            language = request_language()
            private = carries_session()
            etag = _etag(store, language, version)
            headers = _cache_headers(etag, version, private)
            if not is_resource_modified(
                request.environ, etag=etag, last_modified=version.last_modified
            ):
                return Response(status=304, headers=headers)
            key = (request.full_path, language)
            if not private:
                page = store.get(key, etag)
                if page is not None:
                    return Response(page.body, content_type=page.content_type, headers=headers)
            response = make_response(view(**view_args))
            if not _keepable(response):
                return response
            response.headers.update(headers)
            if not private:
                store.put(key, StoredPage(etag, response.get_data(), response.content_type))
            return response

        return cached_view

    return decorate


def store_of(app: Flask) -> PageStore:
    return app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = PageStore(release_stamp(app), app.config["PAGE_CACHE_ENTRIES"])
    app.extensions[VERSIONS] = VersionReader(_sqlite_path(app.config["DATABASE_URL"]))
