"""A page's content version, read from the database with one prebuilt stamp query
(``tipline.notices.change_stamps``) outside any transaction, and remembered while the database's
change signal (``signals``) says nothing has changed since."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app

from tipline import db

from .signals import ChangeSignal, Counter
from .store import VersionOf

VERSIONS = "tipline.page_versions"
T = TypeVar("T")
#: What ``remembered`` answers when the version is not known to be current without a query.
UNKNOWN = object()


class VersionReader:
    """Reads a page's version stamp from the database, and skips the query while the change
    signal says nothing public has changed since the last read."""

    MAX_REMEMBERED = 1024

    def __init__(self, signal: ChangeSignal) -> None:
        self.signal = signal
        self._lock = threading.Lock()
        self._counter: Counter | None = None
        self._versions: dict[tuple[Any, ...], Any] = {}

    def _lookup(self, key: tuple[Any, ...]) -> tuple[Counter | None, Any]:
        """Under the lock: the change counter now, and the version remembered for ``key`` if
        nothing changed since it was read, else ``UNKNOWN``."""
        counter = self.signal.counter()
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

    def close(self) -> None:
        """Close the signal's connection (a later read opens it again)."""
        with self._lock:
            self.signal.close()
            self._counter = None
            self._versions.clear()


def versions_of(app: Flask) -> VersionReader:
    return app.extensions[VERSIONS]


def remembered_read(reader: Callable[..., T], **args: Any) -> T:
    """``reader(connection, **args)``, read once and remembered in this process until the
    database signals a change to public notice content: a query a tip POST would otherwise
    make on every request, made outside its transaction."""
    return versions_of(current_app).read(reader, args)
