"""Readiness for load balancers and service managers: ``/readyz``.

``/healthz`` (in ``public.py``) says the process is up. ``/readyz`` says it can serve: the
database answers and, when ``TIPLINE_REDIS_URL`` is set, so does Redis. The body is a plain
sentence naming what is missing; connection details stay in the server's log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from flask import Blueprint, Flask, current_app, make_response
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from tipline import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

#: Seconds a readiness check waits for Redis before calling it unreachable.
REDIS_TIMEOUT = 2.0
_checks: dict[int, ThreadPoolExecutor] = {}


def _answers_within(check: Callable[[], bool], seconds: float, what: str) -> bool:
    """Run ``check`` in a helper thread and wait at most ``seconds`` for it: a database whose
    server is stopped (not refusing, just silent) holds a socket read past every timeout the
    server enforces, and a readiness probe must answer anyway. A check still stuck is left to
    finish on its own; the next probe uses another thread (two per process at most)."""
    pool = _checks.get(os.getpid())
    if pool is None:  # none survives a fork
        pool = _checks[os.getpid()] = ThreadPoolExecutor(2, thread_name_prefix="readyz")
    try:
        return pool.submit(check).result(timeout=seconds)
    except FutureTimeout:
        log.warning("readiness: %s did not answer within %s s", what, seconds)
        return False


def database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("readiness: the database does not answer", exc_info=True)
        return False
    return True


def redis_client(app: Flask) -> redis.Redis:
    """One client per app for readiness checks (redis-py reconnects after a fork)."""
    client = app.extensions.get("tipline.redis_ready")
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
        app.extensions["tipline.redis_ready"] = client
    return client


def redis_answers(app: Flask) -> bool:
    try:
        return bool(redis_client(app).ping())
    except (redis.RedisError, OSError):
        log.warning("readiness: Redis does not answer", exc_info=True)
        return False


@bp.get("/readyz")
def readyz() -> Response:
    missing = []
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    bound = float(app.config["READY_TIMEOUT"])
    engine = db.engine()
    if not _answers_within(lambda: database_answers(engine), bound, "the database"):
        missing.append("the database does not answer")
    if app.config.get("REDIS_URL") and not _answers_within(
        lambda: redis_answers(app), bound, "Redis"
    ):
        missing.append("Redis does not answer")
    if missing:
        body, status = "not ready: " + "; ".join(missing) + "\n", 503
    else:
        body, status = "ready\n", 200
    response = make_response(body, status)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
