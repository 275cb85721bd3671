"""The rendered copies one process keeps: an LRU store keyed by (URL, language).

Each app has three: the public pages (``PAGES``), the blank tip forms with token slots
(``SHELLS``) and new tips' receipt pages with code slots (``RECEIPT_SHELLS``, one per kind and
language). ``PAGE_CACHE_ENTRIES`` bounds the first two; the least recently used copy goes first, and
a copy whose ETag no longer matches is dropped when it is asked for.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from werkzeug.wsgi import get_current_url

from tipline import i18n
from tipline.notices.change_stamps import ContentVersion

PAGES = "tipline.page_cache"
SHELLS = "tipline.form_shells"
RECEIPT_SHELLS = "tipline.receipt_shells"

#: Reads a page's content version: ``version_of(connection, **view_args)``.
VersionOf = Callable[..., ContentVersion | None]
Key = tuple[str, str]


@dataclass(frozen=True)
class StoredPage:
    etag: str
    body: bytes
    content_type: str
    # What the page was built from, so the WSGI replay can check it is still current.
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
        self._pages: OrderedDict[Key, StoredPage] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key, etag: str) -> StoredPage | None:
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if page.etag != etag:  # the content changed since it was rendered
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def peek(self, key: Key) -> StoredPage | None:
        with self._lock:
            return self._pages.get(key)

    def attach_headers(self, key: Key, etag: str, headers: list) -> None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None and page.etag == etag and page.wsgi_headers is None:
                self._pages[key] = dataclasses.replace(page, wsgi_headers=tuple(headers))

    def put(self, key: Key, page: StoredPage) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)

    def entries(self) -> list[Key]:
        with self._lock:
            return list(self._pages)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def page_key(environ: dict[str, Any], language: str) -> Key:
    # The whole URL: scheme and host shape the headers (HSTS) that the replay sends again.
    return (get_current_url(environ), language)


def request_language() -> str:
    """The page language for this request, as the page itself is rendered in."""
    return i18n.current_locale()


def carries_session() -> bool:
    """Whether the request sent a session cookie (staff signed in, or a tipster mid-form)."""
    return current_app.session_interface.get_cookie_name(current_app) in request.cookies


def store_of(app: Flask, name: str = PAGES) -> PageStore:
    return app.extensions[name]
