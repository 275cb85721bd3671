"""The database: declarative base, one engine per app, one session per request."""

from __future__ import annotations

import enum
import fcntl
import functools
import os
import re
import socket
import sqlite3
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, current_app, g, request
from sqlalchemy import (
    Connection,
    CursorResult,
    DateTime,
    Engine,
    Enum,
    Executable,
    MetaData,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.orm import DeclarativeBase, Session, UOWTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic revisions are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it


SQLITE_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE"})

#: Execution options of the engine behind request sessions. On SQLite their transactions take
#: the write lock when they begin: almost every request writes (a tip, an audit row for a
#: viewed tip), and a WAL transaction that reads first and writes later fails with SQLITE_BUSY
#: if another writer committed in between. Taking the lock up front makes such requests wait
#: their turn (busy timeout) instead. Readers in other connections are not blocked (WAL).
WRITE_OPTIONS = {"sqlite_begin": "IMMEDIATE"}


#: Execution options for a connection that runs one read statement, which is consistent on its
#: own: no transaction around it, so no BEGIN and ROLLBACK round trips (see single_read()).
SINGLE_READ_OPTIONS = {
    "sqlite": {"sqlite_begin": "NONE"},
    "postgresql": {"isolation_level": "AUTOCOMMIT"},
}


def _create_private_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner only (0600); SQLite gives the
    -wal and -shm files the database file's permissions."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return  # SQLite will say it cannot open the file; creating directories is not ours
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@dataclass(frozen=True)
class Timeouts:
    """How long the database may keep a request waiting, in seconds. Each bound is shorter
    than gunicorn's worker timeout, so a stuck lock or an unreachable server ends in the
    "not saved" page rather than a killed worker (docs/operations.md)."""

    connect: float = 5.0
    statement: float = 15.0
    lock: float = 8.0
    pool: float = 10.0
    #: SQLite: how long a writer waits for the write lock (its busy timeout).
    busy: float = 10.0

    @classmethod
    def from_config(cls, config: Any) -> Timeouts:
        return cls(
            connect=float(config["DATABASE_CONNECT_TIMEOUT"]),
            statement=float(config["DATABASE_STATEMENT_TIMEOUT"]),
            lock=float(config["DATABASE_LOCK_TIMEOUT"]),
            pool=float(config["DATABASE_POOL_TIMEOUT"]),
            busy=float(config["DATABASE_BUSY_TIMEOUT"]),
        )


def _postgresql_options(url: str, timeouts: Timeouts) -> dict[str, Any]:
    """libpq connection arguments carrying the timeouts; ``options`` already in the URL come
    after ours, so a URL that sets one of them wins."""
    ours = (
        f"-c statement_timeout={int(timeouts.statement * 1000)} "
        f"-c lock_timeout={int(timeouts.lock * 1000)}"
    )
    theirs = make_url(url).query.get("options")
    if isinstance(theirs, tuple):
        theirs = " ".join(theirs)
    return {
        "connect_timeout": max(1, round(timeouts.connect)),
        "options": f"{ours} {theirs}" if theirs else ours,
    }


def make_engine(
    url: str, echo: bool = False, writers_lock: bool = True, timeouts: Timeouts | None = None
) -> Engine:
    """Create an engine; SQLite gets WAL, synchronous=FULL, foreign keys and a busy timeout;
    PostgreSQL gets connect, statement and lock timeouts, and its writers take the audit
    chain's lock first (``writers_lock``: off only for the benchmarks' minimal app, which has
    no audit chain). Errors never carry a statement's parameters (a tipster's words) into a
    message or a log: ``hide_parameters``."""
    timeouts = timeouts or Timeouts()
    if url.startswith("sqlite"):
        _create_private_file(url)
        path = make_url(url).database or ""
        queue = path not in ("", ":memory:") and not path.startswith("file:")
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"timeout": timeouts.busy}
            | ({"factory": _QueuedWriters} if queue else {}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Request sessions begin IMMEDIATE (see WRITE_OPTIONS); plain sessions DEFERRED;
            # single-statement reads (SINGLE_READ_OPTIONS) not at all.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode == "NONE":
                return
            raw = conn.connection.dbapi_connection
            queued = True
            if mode == "IMMEDIATE" and isinstance(raw, _QueuedWriters):
                queued = raw.wait_for_writers(f"{path}-writers", timeouts.busy)
            if not queued:
                # The busy timeout went by in the queue: SQLite's lock is almost surely held
                # too, and the request must not wait a second busy timeout for it.
                raw.execute("PRAGMA busy_timeout = 100")
            try:
                conn.exec_driver_sql(f"BEGIN {mode}" if mode in SQLITE_BEGIN_MODES else "BEGIN")
            except BaseException:
                if isinstance(raw, _QueuedWriters):
                    raw.let_next_writer_in()
                raise
            finally:
                if not queued:
                    raw.execute(f"PRAGMA busy_timeout = {round(timeouts.busy * 1000)}")

        return engine
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_timeout=timeouts.pool,
        connect_args=_postgresql_options(url, timeouts),
    )
    if writers_lock:
        _writers_take_the_chain_lock_first(engine)
    event.listen(engine, "connect", _remember_connection)
    return engine


class _QueuedWriters(sqlite3.Connection):
    """A SQLite connection whose IMMEDIATE transactions queue for the write lock on a lock
    file (``flock``) first, and let the next writer in the moment they commit or roll back.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ms and so on between tries rather than
    waking when the lock is free, so a writer that finds it taken lost a millisecond or more
    each time; under a stream of tips from two workers, BEGIN IMMEDIATE was 7 % of a tip's
    time.
    Here a waiting writer tries the lock file every 0.1 to 1 ms (a system call, not a
    statement). Past the busy timeout it goes on to BEGIN IMMEDIATE without the lock file,
    giving SQLite a last tenth of a second, so a stuck writer costs the others one busy
    timeout, as before. The lock file only orders writers that use it (deferred transactions
    and scripts do not); the database lock stays what guarantees one writer at a time.
    """

    _lock_file: int | None = None
    _holding = False

    def wait_for_writers(self, lock_path: str, timeout: float) -> bool:
        """Take the lock file, waiting up to ``timeout``; False if it stayed taken."""
        if self._lock_file is None:
            self._lock_file = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        pause, give_up = 0.0001, time.monotonic() + timeout
        while True:
            # Marked before the lock is taken: a request deadline (a signal) raising between
            # the two must not leave a lock no commit or rollback lets go of. Letting go of a
            # lock not held does nothing.
            self._holding = True
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._holding = False
                if time.monotonic() >= give_up:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
            else:
                return True

    def let_next_writer_in(self) -> None:
        if self._holding and self._lock_file is not None:
            self._holding = False
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.let_next_writer_in()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.let_next_writer_in()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.let_next_writer_in()
            if self._lock_file is not None:
                os.close(self._lock_file)
                self._lock_file = None


#: Every PostgreSQL connection this process holds open (the driver's objects, weakly).
_CONNECTIONS: weakref.WeakSet[Any] = weakref.WeakSet()


def _remember_connection(dbapi_connection: Any, _record: Any) -> None:
    _CONNECTIONS.add(dbapi_connection)


def cut_waiting_connections() -> int:
    """Shut down the socket of every PostgreSQL connection of this process that is waiting
    for the server to answer (a command in progress); return how many.

    For a server that is there but does not answer (its processes stopped, its machine
    frozen): no server-side timeout can fire, and the kernel at the other end keeps
    acknowledging, so the driver would wait forever. After the cut the driver reads end of
    file, raises ``OperationalError`` ("server closed the connection unexpectedly") in the
    thread that waited, and SQLAlchemy discards the connection as a disconnect. Nothing is
    raised here, so it is safe to call from a signal handler (web/deadline.py): no lock is
    taken, and a connection that is idle, closed, or half set up is left alone.
    """
    return sum(_cut_if_waiting(connection) for connection in _snapshot(_CONNECTIONS))


def _cut_if_waiting(connection: Any) -> bool:
    try:
        if connection.closed or connection.pgconn.transaction_status != _PQTRANS_ACTIVE:
            return False
        # A duplicate descriptor: shutting it down shuts the socket for the driver too, and
        # closing the duplicate leaves the driver's own descriptor valid.
        with socket.socket(fileno=os.dup(connection.pgconn.socket)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # closed meanwhile, or no socket any more: nothing to cut
        return False
    return True


#: libpq's PQTRANS_ACTIVE (psycopg's ``pq.TransactionStatus.ACTIVE``): a command is in progress.
_PQTRANS_ACTIVE = 1


def _snapshot(connections: weakref.WeakSet[Any]) -> list[Any]:
    """A copy of the set; another thread opening a connection meanwhile makes a try fail."""
    for _ in range(5):
        try:
            return list(connections)
        except RuntimeError:  # the set changed size during the copy
            continue
    return []


#: pg_advisory_xact_lock key serialising PostgreSQL writers ("tiplinea"; a signed bigint).
CHAIN_LOCK = 0x7469706C696E6561
_TAKE_CHAIN_LOCK = "SELECT pg_advisory_xact_lock(%s)"
#: Marks a connection whose transaction holds CHAIN_LOCK (cleared when a transaction begins).
HOLDS_CHAIN_LOCK = "tipline.holds_chain_lock"
#: Statements that lock rows: writes (a data-modifying WITH too), and reads that lock what
#: they read.
_LOCKS_ROWS = re.compile(
    r"^\s*(WITH\b.*?\b)?(INSERT|UPDATE|DELETE)\b"
    r"|\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(KEY\s+)?SHARE\b",
    re.IGNORECASE | re.DOTALL,
)


def _writers_take_the_chain_lock_first(engine: Engine) -> None:
    """On PostgreSQL, a transaction takes the audit chain's lock before its first row lock.

    Every write is audited, and the audit event needs the chain head, so writers are
    serialised on that lock in any case (``audit.record``). Taken only there, it came after the
    rows a transaction had already written: a job updating several tips, auditing each, could
    hold the lock and wait for a tip that a staff request had updated and was itself waiting
    to audit, a deadlock PostgreSQL broke by failing one of them. With the lock always first,
    no two transactions hold row locks while waiting for each other. Reads take nothing, so
    public pages and staff pages that only read never wait. (SQLite's request transactions
    begin IMMEDIATE, the same order by other means.)
    """

    @event.listens_for(engine, "begin")
    def _new_transaction(conn: Connection) -> None:
        conn.info.pop(HOLDS_CHAIN_LOCK, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _lock_first(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(HOLDS_CHAIN_LOCK) or not _LOCKS_ROWS.search(statement):
            return
        with cursor.connection.cursor() as locking:
            locking.execute(_TAKE_CHAIN_LOCK, (CHAIN_LOCK,))
        conn.info[HOLDS_CHAIN_LOCK] = True


def hold_chain_lock(connection: Connection) -> None:
    """Hold the audit chain's lock until this transaction ends (PostgreSQL; SQLite request
    transactions already hold the write lock)."""
    if connection.dialect.name != "postgresql" or connection.info.get(HOLDS_CHAIN_LOCK):
        return
    connection.exec_driver_sql(_TAKE_CHAIN_LOCK, (CHAIN_LOCK,))
    connection.info[HOLDS_CHAIN_LOCK] = True


#: The app's sessionmakers, by extension name (the audit package adds its key to each).
SESSIONMAKERS = ("tipline.sessionmaker", "tipline.write_sessionmaker", "tipline.read_sessionmaker")


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"],
        app.config["DATABASE_ECHO"],
        timeouts=Timeouts.from_config(app.config),
    )
    app.extensions["tipline.engine"] = engine
    app.extensions["tipline.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["tipline.write_sessionmaker"] = sessionmaker(
        bind=engine.execution_options(**WRITE_OPTIONS), expire_on_commit=False
    )
    app.extensions["tipline.read_sessionmaker"] = sessionmaker(
        bind=engine, expire_on_commit=False, info={"read_only": True}
    )
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["tipline.engine"]


def session() -> Session:
    """The session for this request (or app context), opened on first use."""
    if "db_session" not in g:
        maker = "read_sessionmaker" if g.get("db_read_only") else "write_sessionmaker"
        g.db_session = current_app.extensions[f"tipline.{maker}"]()
    return g.db_session


def single_read() -> Connection:
    """A connection for one read statement outside any transaction (a page's version stamp).

    Use it as a context manager; never write with it.
    """
    connection = engine().connect()
    return connection.execution_options(**SINGLE_READ_OPTIONS.get(connection.dialect.name, {}))


def read_only_request() -> None:
    """Declare that this request only reads (a public page): its session then begins DEFERRED
    on SQLite, so it neither takes nor waits for the write lock, and it refuses to flush a
    change (nothing it does can reach the audit chain). Has no effect once the request's
    session is open."""
    g.db_read_only = True


def read_only_on_get(view: Callable[..., Any]) -> Callable[..., Any]:
    """For a view that writes only on POST (a form): its GET and HEAD requests are read-only
    (``read_only_request``), so showing a form never queues behind writers on SQLite."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method in ("GET", "HEAD"):
            read_only_request()
        return view(*args, **kwargs)

    return wrapper


class ReadOnlySessionError(RuntimeError):
    """A request declared read-only tried to write."""


def refuse_writes_when_read_only(session: Session, _ctx: UOWTransaction, _objs: Any) -> None:
    if session.info.get("read_only") and (
        session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
    ):
        require_writable(session)


def require_writable(session: Session) -> None:
    """Refuse a write on a session a request declared read-only: the flush check above, and
    the plain INSERTs that never pass through a flush (audit events, new tips), call it."""
    if session.info.get("read_only"):
        raise ReadOnlySessionError("This request was declared read-only and cannot write.")


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it matched."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


def enum_column(members: type[enum.Enum]) -> Enum:
    """The column type of every enum in the models: its values (not names) in a VARCHAR(20)
    with a CHECK, the same on SQLite and PostgreSQL (no native enum type to migrate)."""
    return Enum(
        members, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )
