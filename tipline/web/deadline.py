"""A bound on how long a web request may wait on a database server that does not answer.

The server-side timeouts (``statement_timeout``, ``lock_timeout``) are enforced by the server:
if its processes are stopped (SIGSTOP, a frozen virtual machine, a storage stall that blocks
them), nothing enforces them, and the kernel at the other end keeps acknowledging what the
client sends, so neither TCP keepalives nor ``tcp_user_timeout`` ever give up. A request
waiting on such a connection waits until gunicorn's worker timeout kills the worker, and the
tipster gets a bare error or a reset with their words lost.

So a request that runs on the process's main thread (gunicorn's sync workers) arms a timer
(``SIGALRM``) for ``DATABASE_REQUEST_DEADLINE`` seconds, shorter than the worker timeout. When
it fires, the PostgreSQL connections of this process that are waiting for an answer have their
sockets shut down (``db.cut_waiting_connections``); the driver reads end of file, SQLAlchemy
raises ``OperationalError`` and discards the connection, and the outage pages answer
(web/outage.py): the "not saved" page with the tipster's text. After that the timer fires
every second until the request ends, so no later wait of the same request is unbounded.

The handler raises nothing: an exception thrown into the driver's wait would leave the
connection in the middle of a command (psycopg recovers cleanly only from
``KeyboardInterrupt``, by asking the server, which is not answering, to cancel). Requests on
other threads (a threaded development server) have no deadline: signals reach only the main
thread. A timer someone else installed on ``SIGALRM`` is left alone, and then there is none.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from flask import Flask, current_app, g

from tipline import db

log = logging.getLogger(__name__)

#: After the deadline, how often the timer fires again until the request ends, in seconds.
AFTER_DEADLINE_EVERY = 1.0


class _State:
    cut = 0  # connections cut during the current request


def _expired(_signum: int, _frame: FrameType | None) -> None:
    # Runs on the main thread between two bytecodes of whatever it was doing: no logging and
    # no lock here (the interrupted code may hold them); the count is logged when disarmed.
    _State.cut += db.cut_waiting_connections()


def arm() -> None:
    """Before each request: start the timer, if this thread can receive it."""
    seconds = float(current_app.config["DATABASE_REQUEST_DEADLINE"])
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGALRM)
    if handler is not _expired:
        if handler not in (signal.SIG_DFL, None):
            return  # another part of this process uses SIGALRM
        signal.signal(signal.SIGALRM, _expired)
    _State.cut = 0
    signal.setitimer(signal.ITIMER_REAL, seconds, AFTER_DEADLINE_EVERY)
    g.deadline_armed = True  # on this request's app context, not on one a job opens inside it


def disarm(_error: BaseException | None = None) -> None:
    """When the request's app context ends (after its session was closed)."""
    if not g.pop("deadline_armed", False):
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    if _State.cut:
        log.warning(
            "a request waited on the database longer than DATABASE_REQUEST_DEADLINE: "
            "cut %d connection(s) the server did not answer on",
            _State.cut,
        )
        _State.cut = 0


def init_app(app: Flask) -> None:
    """Call before ``db.init_app``: the timer is armed before any other hook can query, and
    Flask runs app-context teardowns in reverse, so it is disarmed after the request's
    session was closed (a rollback on a silent server is bounded too)."""
    app.before_request(arm)
    app.teardown_appcontext(disarm)
