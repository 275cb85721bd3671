"""SQLite writers queue on a lock file before BEGIN IMMEDIATE and let the next one in the
moment they commit or roll back (``tipline.db._QueuedWriters``); a writer that waits past the
busy timeout goes on to SQLite's own busy handling, so a stuck lock file never stops a write."""

import fcntl
import os
import signal
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tipline import db

IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}


def _engine(tmp_path, busy: float = 5.0):
    return db.make_engine(
        f"sqlite:///{tmp_path / 'writers.sqlite3'}", timeouts=db.Timeouts(busy=busy)
    ).execution_options(**IMMEDIATE)


def test_a_waiting_writer_gets_in_when_the_first_commits(tmp_path):
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    order: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            first_in.set()
            release.wait(5)
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append("first wrote")

    def second() -> None:
        first_in.wait(5)
        with engine.begin() as conn:
            order.append("second began")
            conn.execute(text("INSERT INTO t VALUES (2)"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert order == []  # the second writer is queued on the lock file, not inside
    release.set()
    for t in threads:
        t.join(10)
    assert order == ["first wrote", "second began"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY rowid")).scalars().all() == [1, 2]
    engine.dispose()


def _lock_file_taken(tmp_path) -> bool:
    other = os.open(tmp_path / "writers.sqlite3-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(other)
    return False


def test_a_writer_holds_the_lock_file_until_it_commits_or_rolls_back(tmp_path):
    engine = _engine(tmp_path)
    for end in ("commit", "rollback"):
        with engine.connect() as conn:
            conn.begin()
            assert _lock_file_taken(tmp_path)
            getattr(conn, end)()
            assert not _lock_file_taken(tmp_path)
    with engine.connect() as conn:
        conn.begin()
    assert not _lock_file_taken(tmp_path)  # closed without an end: the pool rolled it back
    deferred = engine.execution_options(sqlite_begin="DEFERRED")
    with deferred.connect() as conn:
        conn.begin()
        assert not _lock_file_taken(tmp_path)  # only IMMEDIATE writers queue on it
        conn.rollback()
    engine.dispose()


def test_a_lock_file_held_elsewhere_delays_a_writer_only_up_to_the_busy_timeout(tmp_path):
    engine = _engine(tmp_path, busy=0.3)
    stuck = os.open(tmp_path / "writers.sqlite3-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # a process that took the lock file and hangs
    try:
        started = time.monotonic()
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        waited = time.monotonic() - started
    finally:
        os.close(stuck)
    assert 0.3 <= waited < 3
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    engine.dispose()


def test_a_writer_waits_one_busy_timeout_in_all_when_the_database_stays_locked(tmp_path):
    engine = _engine(tmp_path, busy=0.5)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    holder = engine.connect()
    holder.begin()  # holds the lock file and SQLite's write lock
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert 0.5 <= waited < 0.9  # the queue's timeout, then a tenth of a second, not two
    with engine.begin() as conn:  # and the next writer is not held up by what went before
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 500
    engine.dispose()


def test_a_writer_interrupted_while_queued_holds_nothing_afterwards(tmp_path):
    """The request deadline (a signal that raises) can end a wait in the queue."""

    class Deadline(Exception):
        pass

    def expire(*_args):
        raise Deadline

    engine = _engine(tmp_path, busy=5)
    stuck = os.open(tmp_path / "writers.sqlite3-writers", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(stuck, fcntl.LOCK_EX)
    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Deadline), engine.begin() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(stuck)
    assert not _lock_file_taken(tmp_path)
    started = time.monotonic()
    with engine.begin() as conn:  # the next writer gets in at once
        conn.execute(text("SELECT 1"))
    assert time.monotonic() - started < 1
    engine.dispose()
