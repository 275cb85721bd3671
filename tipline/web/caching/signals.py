"""Change signals: a counter the database moves whenever public content may have changed, read
without a query, so a version read once stays known until the counter moves.

SQLite: ``PRAGMA data_version`` on a connection of this process's own, which never writes,
changes whenever any other connection (another worker, another server on the same file, or
this process's request sessions) commits: exact, for one pragma instead of one query.

PostgreSQL: a connection of this process's own LISTENs on ``change_stamps.CHANGE_CHANNEL``;
every transaction that changes notice content NOTIFYs it, delivered when it commits. Reading
pending notifications costs no round trip. Commits made in this process count at once
(``change_stamps.local_change_count``); another server's reach this one as fast as PostgreSQL
delivers a notification (well under a millisecond on a local network), and a lost listening
connection makes every request read again until it is back.

Each signal holds one connection of its own, made lazily (and again after a fork, since none
survives one) and closed by ``close()``, which the app calls when its engine is disposed.
"""

from __future__ import annotations

import os
import select
import sqlite3
import time
from typing import Any, Protocol

import psycopg
from psycopg import pq
from psycopg.conninfo import make_conninfo
from sqlalchemy import make_url

from tipline.notices import change_stamps

Counter = tuple[int, ...]


class ChangeSignal(Protocol):
    def counter(self) -> Counter | None:
        """The counter now; None when it cannot be read (then every request reads)."""

    def close(self) -> None: ...


class _OwnConnection:
    """One connection of this process's own: made lazily, again after a fork."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._connection: Any = None

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def _fresh(self) -> bool:
        return self._connection is None or self._pid != os.getpid()  # none survives a fork

    def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None or self._pid != os.getpid():  # never the parent's
            return
        if isinstance(connection, sqlite3.Connection):
            connection.close()
        else:
            connection.finish()  # libpq's PQfinish


class SqliteDataVersion(_OwnConnection):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def counter(self) -> Counter | None:
        try:
            if self._fresh():
                self._connection = sqlite3.connect(self._path, check_same_thread=False, timeout=15)
                self._pid = os.getpid()
            return (self._connection.execute("PRAGMA data_version").fetchone()[0],)
        except sqlite3.Error:  # no memo then: every request reads the stamp (and reports)
            self._connection = None
            return None


class PostgresqlListener(_OwnConnection):
    RETRY_SECONDS = 5.0
    CONNECT_WAIT = 0.5

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._notified = 0
        self._retry_at = 0.0

    def close(self) -> None:
        self._retry_at = 0.0  # closed on purpose, not lost: the next read may connect at once
        self._drop()

    @property
    def backend_pid(self) -> int | None:
        """The server process of the open connection (as ``pg_stat_activity`` names it)."""
        return self._connection.backend_pid if self._connection is not None else None

    def _connect(self) -> pq.abc.PGconn:
        """Connect, waiting at most CONNECT_WAIT: the request that asks waits for it, and a
        server that accepts connections but does not answer (stopped, frozen) must cost a
        tipster a fraction of a second, not libpq's connect timeout; meanwhile every stamp
        is read, which is correct, only slower."""
        connection = pq.PGconn.connect_start(self._conninfo.encode())
        give_up = time.monotonic() + self.CONNECT_WAIT
        while True:
            status = connection.connect_poll()
            if status == pq.PollingStatus.OK:
                return connection
            left = give_up - time.monotonic()
            if status == pq.PollingStatus.FAILED or left <= 0:
                connection.finish()
                raise psycopg.OperationalError("cannot connect to listen")
            waiting = [connection.socket]
            if status == pq.PollingStatus.READING:
                select.select(waiting, [], [], left)
            else:
                select.select([], waiting, [], left)

    def counter(self) -> Counter | None:
        # libpq's own connection object: no cursor machinery, and nothing to warn about when
        # an app is dropped (tests make many).
        try:
            if self._fresh() or self._connection.status != pq.ConnStatus.OK:
                if time.monotonic() < self._retry_at:
                    return None  # reading every stamp meanwhile is correct, only slower
                self._retry_at = time.monotonic() + self.RETRY_SECONDS
                self._connection = self._connect()
                self._pid = os.getpid()
                listen = self._connection.exec_(f"LISTEN {change_stamps.CHANGE_CHANNEL}".encode())
                if listen.status != pq.ExecStatus.COMMAND_OK:
                    raise psycopg.OperationalError("LISTEN failed")
                self._notified += 1  # anything may have changed while no one listened
            self._connection.consume_input()  # reads what has arrived; never waits
            while self._connection.notifies() is not None:
                self._notified += 1
        except psycopg.Error:
            self._drop()
            return None
        return (self._notified, change_stamps.local_change_count())


class NoSignal:
    """A database without a signal (SQLite in memory): every request reads the stamp."""

    def counter(self) -> Counter | None:
        return None

    def close(self) -> None:
        pass


def signal_for(database_url: str) -> ChangeSignal:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteDataVersion(str(url.database))
    if backend == "postgresql":
        rendered = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresqlListener(make_conninfo(rendered, connect_timeout=5))
    return NoSignal()
