"""The app's queue and its task table.

Tasks are declared once, at module level (``tasks.py``), with ``task`` and ``periodic_task``,
and registered by ``init_app`` on each app's own Huey, so a worker started for one
configuration never runs another's tasks (and tests may build many apps in one process).
Calling a declared task queues it on the current app's queue; ``.call_local()`` runs its body
in-process, as the tests do. Each body runs inside its app's context.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app
from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.api import TaskWrapper

from tipline import db
from tipline import schedule as scheduling
from tipline.triage.intake import FollowerMail

log = logging.getLogger(__name__)


def redis_url(app: Flask) -> str | None:
    return app.config.get("REDIS_URL") or None


def make_huey(app: Flask) -> Huey:
    url = redis_url(app)
    immediate = bool(app.config.get("HUEY_IMMEDIATE"))
    if url:
        # Bounded waits: a stalled Redis fails an enqueue in about a second rather than
        # holding a request (the consumer's blocking read waits up to read_timeout=1 s, so
        # the socket timeout must be longer than that).
        pool = redis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=float(app.config["REDIS_CONNECT_TIMEOUT"]) * 2,
            socket_timeout=2.0,
        )
        # Priorities (Redis 5 or later): the sweep never waits behind a mail backlog.
        return PriorityRedisHuey("tipline", connection_pool=pool, immediate=immediate)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    path = Path(app.instance_path) / "huey.sqlite3"
    return SqliteHuey("tipline", filename=str(path), immediate=immediate)


def kick(task: Callable[[], Any], what: str) -> None:
    """Queue ``task`` now; a queue that is down only delays delivery to the next minute's
    run (the outbox holds the e-mails), so the error is logged and nothing fails."""
    try:
        task()
    except Exception:
        log.exception("could not queue the delivery of %s (the outbox keeps it)", what)


#: Periodic tasks go before e-mail in the queue (higher runs first).
PERIODIC_PRIORITY = 10

Schedule = Callable[[datetime], bool]


@dataclass(frozen=True)
class DeclaredTask:
    name: str
    body: Callable[..., Any]
    #: When it runs by itself; None for a task that is only queued.
    schedule: Schedule | None = None
    #: Its finished runs are recorded, and ``catch_up`` runs it when a slot passed unrun.
    catch_up: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    def __call__(self, *args: Any) -> Any:
        """Queue it on the current app's queue."""
        return jobs_for(current_app).task(self.name)(*args)

    def call_local(self, *args: Any) -> Any:
        """Run it here and now, in the current app."""
        return jobs_for(current_app).task(self.name).call_local(*args)

    def register(self, app: Flask, huey: Huey) -> TaskWrapper:
        body, name = self.body, self.name

        @functools.wraps(body)
        def run(*args: Any) -> Any:
            with app.app_context():
                result = body(*args)
                if self.catch_up:
                    with write_session() as session:
                        scheduling.record_run(session, name, db.utcnow())
                        session.commit()
            return result

        if self.schedule is None:
            return huey.task(name=name, **self.settings)(run)
        return huey.periodic_task(self.schedule, name=name, **self.settings)(run)


DECLARED: dict[str, DeclaredTask] = {}


def task(**settings: Any) -> Callable[[Callable[..., Any]], DeclaredTask]:
    """Declare a queued task (huey's ``task`` settings: retries, retry_delay, priority)."""

    def declare(body: Callable[..., Any]) -> DeclaredTask:
        DECLARED[body.__name__] = DeclaredTask(body.__name__, body, settings=settings)
        return DECLARED[body.__name__]

    return declare


def periodic_task(
    schedule: Schedule, *, priority: int | None = PERIODIC_PRIORITY, catch_up: bool = False
) -> Callable[[Callable[[], Any]], DeclaredTask]:
    """Declare a periodic task, by default ahead of e-mail in the queue; with ``catch_up``,
    its finished runs are recorded in the database and a missed one is run when the worker
    is back."""

    def declare(body: Callable[[], Any]) -> DeclaredTask:
        declared = DeclaredTask(body.__name__, body, schedule, catch_up, {"priority": priority})
        DECLARED[body.__name__] = declared
        return declared

    return declare


@dataclass(frozen=True)
class Jobs:
    """An app's queue and its tasks; ``jobs.<name>`` is the task of that name on this queue."""

    huey: Huey
    tasks: dict[str, TaskWrapper]
    # How new tips' follower e-mails reach the outbox (installed by ``tipline.hooks``).
    follower_mail: FollowerMail

    def task(self, name: str) -> TaskWrapper:
        return self.tasks[name]

    def __getattr__(self, name: str) -> TaskWrapper:
        try:
            return self.__dict__["tasks"][name]
        except KeyError:
            raise AttributeError(name) from None

    def catchable(self) -> dict[str, tuple[Schedule, TaskWrapper]]:
        """The sparse jobs that ``catch_up`` runs when their slot passed unrun."""
        return {
            name: (declared.schedule, self.tasks[name])
            for name, declared in DECLARED.items()
            if declared.catch_up and declared.schedule is not None
        }


def jobs_for(app: Flask) -> Jobs:
    return app.extensions["tipline.jobs"]


def write_session() -> Any:
    return current_app.extensions["tipline.write_sessionmaker"]()
