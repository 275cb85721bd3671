"""HTTP caching of public pages that show no tip data: notices, the gallery, feeds, the API.

A view opts in with one line, naming how to read its content version from the database::

    @bp.get("/notices/<slug>")
    @caching.public_page(change_stamps.notice_version)
    def notice(slug): ...

Then, for GET and HEAD:

* the version is read first (one cheap query, ``tipline.notices.change_stamps``); the ETag is a
  digest of it, the URL, the language and the release (templates, package version, the
  settings the pages print), and Last-Modified is the content's newest change;
* a conditional request that still matches (If-None-Match, or If-Modified-Since alone) gets a
  304 without the view running or a template being rendered;
* otherwise a rendered copy kept in this process's memory per (URL, language) is sent if it was
  made for the same ETag; if not, the view renders and the copy is replaced. The version comes
  from the database (``VersionReader``: the stamp query, skipped while SQLite's data_version
  or PostgreSQL's notifications say nothing changed), so a change committed through any app
  server invalidates the copies on all of them;
* a plain GET (no cookie, no condition) of a kept page whose version is known current is
  answered by ``FastPublicPages`` below Flask, with the headers Flask sent the first time;
* responses carry ``Cache-Control: public, max-age=60, stale-while-revalidate=300`` and
  ``Vary: Accept-Language, Cookie``.

A request that carries a session cookie (staff, or a tipster who has opened a form) is answered
``private, no-cache``, is rendered afresh (its page may hold a flashed message) and its copy is
never kept, in memory or, by the headers, in a shared cache. Pages that show tip data or forms
with CSRF tokens (the tip form, the receipt) do not use this decorator and stay ``no-store``;
a response marked ``no-store`` or setting a cookie is never kept either.

A notice's blank tip form is kept too, in memory only and apart from these pages
(``filled_form``): with its CSRF token and form token left as slots, filled with fresh tokens
for each visitor who has no session yet, and sent ``no-store`` like any form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import psycopg
from flask import Flask, current_app, make_response, request
from flask_wtf.csrf import generate_csrf
from psycopg import pq
from psycopg.conninfo import make_conninfo
from sqlalchemy import make_url
from werkzeug.http import http_date, is_resource_modified
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_current_url

from tipline import db, i18n
from tipline.notices import change_stamps
from tipline.notices.change_stamps import ContentVersion
from tipline.web import outage

PUBLIC_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
PRIVATE_CACHE_CONTROL = "private, no-cache"
VARY = "Accept-Language, Cookie"
#: A page whose language is named on its URL (``?lang=``) does not depend on the header.
VARY_EXPLICIT_LANGUAGE = "Cookie"
EXTENSION = "tipline.page_cache"
VERSIONS = "tipline.page_versions"

#: Settings printed on public pages: changing one must change every ETag.
RELEASE_SETTINGS = ("AGENCY_NAME", "EMERGENCY_NUMBER")

VersionOf = Callable[..., ContentVersion | None]
T = TypeVar("T")
UNKNOWN = object()
#: WSGI environ key: set by the decorator when Flask's answer may be kept with its headers.
KEEP_HEADERS = "tipline.page_cache.keep"
CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_RANGE")


@dataclass(frozen=True)
class StoredPage:
    etag: str
    body: bytes
    content_type: str
    # What the page was built from, so the WSGI fast path can check it is still current.
    version_of: VersionOf | None = None
    view_args: tuple[tuple[str, Any], ...] = ()
    stamp: str = ""
    # The full headers Flask sent with it (security headers included), once a GET went out.
    wsgi_headers: tuple[tuple[str, str], ...] | None = None


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

    def peek(self, key: tuple[str, str]) -> StoredPage | None:
        with self._lock:
            return self._pages.get(key)

    def attach_headers(self, key: tuple[str, str], etag: str, headers: list) -> None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None and page.etag == etag and page.wsgi_headers is None:
                self._pages[key] = dataclasses.replace(page, wsgi_headers=tuple(headers))

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
    """Reads a page's version stamp from the database, and skips the query while the database
    says nothing public has changed since the last read.

    SQLite: ``PRAGMA data_version`` on a connection of this process's own, which never writes,
    changes whenever any other connection (another worker, another server on the same file, or
    this process's request sessions) commits: exact, for one pragma instead of one query.

    PostgreSQL: a connection of this process's own LISTENs on ``change_stamps.CHANGE_CHANNEL``;
    every transaction that changes notice content NOTIFYs it, delivered when it commits.
    Reading pending notifications costs no round trip. Commits made in this process count at
    once (``change_stamps.local_change_count``); another server's reach this one as fast as
    PostgreSQL delivers a notification (well under a millisecond on a local network), and a
    lost listening connection makes every request read again until it is back.
    """

    MAX_REMEMBERED = 1024
    RETRY_SECONDS = 5.0

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._backend = url.get_backend_name()
        self._sqlite_path = url.database if self._backend == "sqlite" else None
        if self._backend == "sqlite" and self._sqlite_path in (None, "", ":memory:"):
            self._backend = "other"
        self._pg_conninfo = (
            make_conninfo(
                url.set(drivername="postgresql").render_as_string(hide_password=False),
                connect_timeout=5,
            )
            if self._backend == "postgresql"
            else ""
        )
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._connection: Any = None
        self._notified = 0
        self._retry_at = 0.0
        self._counter: tuple[int, ...] | None = None
        self._versions: dict[tuple[Any, ...], Any] = {}

    def _fresh_connection(self) -> bool:
        return self._connection is None or self._pid != os.getpid()  # none survives a fork

    def _sqlite_counter(self) -> tuple[int, ...] | None:
        try:
            if self._fresh_connection():
                self._connection = sqlite3.connect(
                    str(self._sqlite_path), check_same_thread=False, timeout=15
                )
                self._pid = os.getpid()
            return (self._connection.execute("PRAGMA data_version").fetchone()[0],)
        except sqlite3.Error:  # no memo then: every request reads the stamp (and reports)
            self._connection = None
            return None

    def _postgresql_counter(self) -> tuple[int, ...] | None:
        # libpq's own connection object: no cursor machinery, and nothing to warn about when
        # an app is dropped (tests make many).
        try:
            if self._fresh_connection() or self._connection.status != pq.ConnStatus.OK:
                if time.monotonic() < self._retry_at:
                    return None  # reading every stamp meanwhile is correct, only slower
                self._retry_at = time.monotonic() + self.RETRY_SECONDS
                self._connection = pq.PGconn.connect(self._pg_conninfo.encode())
                if self._connection.status != pq.ConnStatus.OK:
                    raise psycopg.OperationalError("cannot connect to listen")
                listen = self._connection.exec_(f"LISTEN {change_stamps.CHANGE_CHANNEL}".encode())
                if listen.status != pq.ExecStatus.COMMAND_OK:
                    raise psycopg.OperationalError("LISTEN failed")
                self._pid = os.getpid()
                self._notified += 1  # anything may have changed while no one listened
            self._connection.consume_input()  # reads what has arrived; never waits
            while self._connection.notifies() is not None:
                self._notified += 1
        except psycopg.Error:
            self._connection = None
            return None
        return (self._notified, change_stamps.local_change_count())

    def _change_counter(self) -> tuple[int, ...] | None:
        if self._backend == "sqlite":
            return self._sqlite_counter()
        if self._backend == "postgresql":
            return self._postgresql_counter()
        return None

    def _lookup(self, key: tuple[Any, ...]) -> tuple[tuple[int, ...] | None, Any]:
        """Under the lock: the change counter now, and the version remembered for ``key`` if
        nothing changed since it was read, else ``UNKNOWN``."""
        counter = self._change_counter()
        if counter is None or counter != self._counter:
            self._versions.clear()
            self._counter = counter
            return counter, UNKNOWN
        return counter, self._versions.get(key, UNKNOWN)

    def remembered(self, version_of: VersionOf, view_args: dict[str, Any]) -> Any:
        """The version if it is known to be current without a query, else ``UNKNOWN``."""
        with self._lock:
            return self._lookup((version_of, *sorted(view_args.items())))[1]

    def read(self, version_of: Callable[..., T], view_args: dict[str, Any]) -> T:
        """``version_of(connection, **view_args)``: a page's version, or any other small
        read about public notices that must be dropped when they change."""
        key = (version_of, *sorted(view_args.items()))
        with self._lock:
            counter, known = self._lookup(key)
        if known is not UNKNOWN:
            return known
        with db.single_read() as connection:
            version = version_of(connection, **view_args)
        with self._lock:
            # Kept under the counter read before the query: a change committed in between
            # moves the counter, and the next request reads again.
            if counter is not None and self._counter == counter:
                if len(self._versions) >= self.MAX_REMEMBERED:
                    self._versions.clear()
                self._versions[key] = version
        return version


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
    """The page language for this request, as the page itself is rendered in."""
    return i18n.current_locale()


def _fast_path_language(environ: dict[str, Any]) -> str:
    """The language of a plain GET, from its query and Accept-Language as i18n decides it;
    the default language for a path whose language is not the negotiated one (staff, API)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(("/staff", "/api/")):
        return i18n.DEFAULT_LOCALE
    chosen = parse_qs(environ.get("QUERY_STRING", "")).get(i18n.QUERY_PARAM, [""])[0].lower()
    if chosen in i18n.LOCALES:
        return chosen
    return i18n.negotiate(environ.get("HTTP_ACCEPT_LANGUAGE"))


def _page_key(environ: dict[str, Any], language: str) -> tuple[str, str]:
    # The whole URL: scheme and host shape the headers (HSTS) that the fast path replays.
    return (get_current_url(environ), language)


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
        "Vary": VARY_EXPLICIT_LANGUAGE if i18n.explicit_locale() else VARY,
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
            try:
                return answer(**view_args)
            except outage.OUTAGE_ERRORS:
                # The database is unreachable or too slow: the last good copy this process
                # holds, whatever its version, beats an error page. None: the 503 page.
                kept = store_of(current_app).peek(_page_key(request.environ, request_language()))
                if kept is None:
                    raise
                outage.drop_session()
                headers = {"Cache-Control": "no-cache", "Vary": VARY}
                return Response(kept.body, content_type=kept.content_type, headers=headers)

        def answer(**view_args: Any) -> Any:
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
            key = _page_key(request.environ, language)
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


class FastPublicPages:
    """WSGI middleware: a plain GET (no cookie, no condition) of a kept public page whose
    version is known to be current without a query is answered from memory, with the status,
    headers and body Flask sent the first time, without entering Flask at all. Everything
    else goes to Flask, whose answers the ``public_page`` decorator marked keepable are kept
    with their final headers (security headers included).
    """

    def __init__(self, app: Flask, wsgi_app: Callable[..., Any]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def _from_memory(self, environ: dict[str, Any]) -> StoredPage | None:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_COOKIE" in environ:
            return None
        if any(name in environ for name in CONDITIONAL):
            return None
        key = _page_key(environ, _fast_path_language(environ))
        page = self.app.extensions[EXTENSION].peek(key)
        if page is None or page.wsgi_headers is None or page.version_of is None:
            return None
        version = self.app.extensions[VERSIONS].remembered(page.version_of, dict(page.view_args))
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
        store: PageStore = self.app.extensions[EXTENSION]
        page = store.peek(key)
        if page is not None and page.body == body:
            store.attach_headers(key, etag, headers)
        return [body]


#: Stand-ins for the per-request tokens in a kept form page (``filled_form``). Letters and
#: hex digits: the template's escaping leaves them as they are. Random per process, so a
#: notice field or a query string cannot carry one into the page (that once broke the shell).
CSRF_SLOT = "tiplinecsrfslot" + secrets.token_hex(12)
FORM_TOKEN_SLOT = "tiplineformtokenslot" + secrets.token_hex(12)
FORM_SHELLS = "tipline.form_shells"
#: What a token may be to go into the page unescaped: itsdangerous and token_urlsafe output.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+\Z")


def _token_bytes(token: str) -> bytes:
    if not _TOKEN.match(token):
        raise ValueError("a form token outside [A-Za-z0-9_.-]")
    return token.encode()


def filled_form(
    version_of: VersionOf,
    view_args: dict[str, Any],
    render_shell: Callable[[], str],
    form_token: str,
) -> Response | None:
    """A public form page for a visitor with no session yet, from a copy kept per (URL,
    language, content version) with its two per-request values left as slots.

    Most of a tip form's cost is rendering a page that is the same for every visitor but for
    its CSRF token and form token. ``render_shell`` renders it once with ``CSRF_SLOT`` and
    ``FORM_TOKEN_SLOT`` in their place; each request then gets a fresh CSRF token (Flask-WTF's
    ``generate_csrf``, which also starts the session that carries it) and ``form_token``. None
    when ``version_of`` says the content is not public: the caller answers as it would.
    A request with a session is never answered from here (its page may hold a message).
    """
    if carries_session():
        return None
    version = current_app.extensions[VERSIONS].read(version_of, view_args)
    if version is None:
        return None
    store: PageStore = current_app.extensions[FORM_SHELLS]
    language = request_language()
    key = _page_key(request.environ, language)
    etag = _etag(store, language, version)
    page = store.get(key, etag)
    if page is None:
        body = render_shell().encode()
        if body.count(CSRF_SLOT.encode()) != 1 or body.count(FORM_TOKEN_SLOT.encode()) != 1:
            return None  # not a shell we can fill: the caller renders the page as usual
        page = StoredPage(etag, body, "text/html; charset=utf-8")
        store.put(key, page)
    body = page.body.replace(CSRF_SLOT.encode(), _token_bytes(generate_csrf()), 1)
    body = body.replace(FORM_TOKEN_SLOT.encode(), _token_bytes(form_token), 1)
    return Response(body, content_type=page.content_type)


def remembered_read(reader: Callable[..., T], **args: Any) -> T:
    """``reader(connection, **args)``, read once and remembered in this process until the
    database signals a change to public notice content (``VersionReader``): a query a tip
    POST would otherwise make on every request, made outside its transaction."""
    return current_app.extensions[VERSIONS].read(reader, args)


#: Stand-ins for the five groups of a receipt code in a kept receipt page (``filled_receipt``).
CODE_SLOTS = tuple(f"tiplinecodeslot{n}x{secrets.token_hex(8)}" for n in range(5))
RECEIPT_SHELLS = "tipline.receipt_shells"


def filled_receipt(kind: str, render_shell: Callable[[str], str], code: str) -> bytes | None:
    """The receipt page of a newly received tip, from a copy kept per ``kind`` (what else
    the page depends on: a notice or not, "there right now" or not) and language, with the
    receipt code's groups left as slots.

    ``render_shell(code)`` renders the page for a stand-in code once; each tip then gets its
    own code written in. None when the code or the page does not fit (the caller renders as
    usual). Never for a page showing flashed messages (the caller checks).
    """
    groups = code.split("-")
    if len(groups) != len(CODE_SLOTS) or not all(_TOKEN.match(group) for group in groups):
        return None
    store: PageStore = current_app.extensions[RECEIPT_SHELLS]
    key = (f"{request.script_root}|{kind}", request_language())
    page = store.get(key, store.release)
    if page is None:
        body = render_shell("-".join(CODE_SLOTS)).encode()
        if any(body.count(slot.encode()) != 1 for slot in CODE_SLOTS):
            return None
        page = StoredPage(store.release, body, "text/html; charset=utf-8")
        store.put(key, page)
    body = page.body
    for slot, group in zip(CODE_SLOTS, groups, strict=True):
        body = body.replace(slot.encode(), group.encode(), 1)
    return body


def store_of(app: Flask) -> PageStore:
    return app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    release = release_stamp(app)
    app.extensions[EXTENSION] = PageStore(release, app.config["PAGE_CACHE_ENTRIES"])
    app.extensions[FORM_SHELLS] = PageStore(release, app.config["PAGE_CACHE_ENTRIES"])
    app.extensions[RECEIPT_SHELLS] = PageStore(release, 64)
    app.extensions[VERSIONS] = VersionReader(app.config["DATABASE_URL"])
    app.wsgi_app = FastPublicPages(app, app.wsgi_app)  # type: ignore[method-assign]
