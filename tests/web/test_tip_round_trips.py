"""What one tip POST costs the database, counted, so that a change adding a round trip fails
here (as the queue page's statement count does in test_triage_web.py)."""

from __future__ import annotations

import re

from sqlalchemy import event

from tipline import db

from ..conftest import receipt_code_on
from .tipster import form_token


def csrf_token_on(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


#: Round trips of one tip POST to a notice (a new form, no photos), at most. SQLite: BEGIN
#: IMMEDIATE, the chain head, the tip, the form's submission row, the audit event, its tree
#: nodes (the left siblings they pair with are remembered from this process's last append),
#: COMMIT: 7 (the notice read is remembered). PostgreSQL: the pool's liveness check and the
#: notice read (neither while the notice is remembered), then a liveness check, BEGIN, the
#: chain's advisory lock, the tip with its submission row in one statement, the chain head,
#: the event with its tree nodes in one statement, and COMMIT: 9.
MAX_ROUND_TRIPS = {"sqlite": 7, "postgresql": 9}


def _count_round_trips(engine, seen: list[str]):
    """Listeners counting what reaches the database. SQLite: every statement the library
    runs on a pooled connection (its trace callback, which also sees what goes to the driver
    without SQLAlchemy). PostgreSQL: statements, the BEGIN psycopg sends before a
    transaction's first statement, the checkout ping, and the chain lock taken on the
    driver's own cursor."""
    if engine.dialect.name == "sqlite":
        return _trace_sqlite(engine, seen)
    locked = [False]

    def statement(conn, _cursor, text, *_args):
        holds = bool(conn.info.get(db.HOLDS_CHAIN_LOCK))
        if holds and not locked[0]:
            # Taken on the driver's own cursor just before the transaction's first write
            # (tipline.db), which SQLAlchemy's statement events never see.
            seen.append("chain lock")
        locked[0] = holds or "pg_advisory_xact_lock" in text
        seen.append(" ".join(text.split())[:160])

    def begin(conn):
        locked[0] = False
        # A connection in autocommit (a single read outside any transaction) sends none.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            seen.append("BEGIN")

    def commit(_conn):
        seen.append("COMMIT")

    def checkout(*_args):
        seen.append("ping")  # pool_pre_ping: one round trip per checkout

    listeners = [
        ("before_cursor_execute", statement),
        ("begin", begin),
        ("commit", commit),
    ]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    event.listen(engine.pool, "checkout", checkout)

    def remove() -> None:
        for name, fn in listeners:
            event.remove(engine, name, fn)
        event.remove(engine.pool, "checkout", checkout)

    return remove


def _trace_sqlite(engine, seen: list[str]):
    def trace(text: str) -> None:
        # What a statement runs inside the library (the full-text index's own statements,
        # its triggers) is reported as comments, or again with the statement's own text:
        # neither is a statement of ours.
        text = " ".join(text.split())[:160]
        if not text.startswith("--") and not (seen and seen[-1] == text):
            seen.append(text)

    def checkout(dbapi_connection, *_args):
        dbapi_connection.set_trace_callback(trace)

    def checkin(dbapi_connection, *_args):
        dbapi_connection.set_trace_callback(None)

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)

    def remove() -> None:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine.pool, "checkin", checkin)

    return remove


def _tip_posts(app, client, url: str, n: int) -> list[list[str]]:
    """What each of ``n`` tip POSTs sent the database (the form's GET before each is not
    counted)."""
    engine = app.extensions["tipline.engine"]
    counted = []
    for i in range(n):
        page = client.get(url).get_data(as_text=True)
        data = {"csrf_token": csrf_token_on(page), "form_token": form_token(page)}
        seen: list[str] = []
        remove = _count_round_trips(engine, seen)
        try:
            response = client.post(url, data={**data, "narrative": f"Seen on Magazine St {i}"})
        finally:
            remove()
        assert response.status_code == 200
        assert receipt_code_on(response.get_data(as_text=True))
        counted.append(seen)
    return counted


def test_a_tip_post_costs_a_fixed_number_of_round_trips(app, client, published_notice):
    url = f"/notices/{published_notice.slug}/tip"
    _tip_posts(app, client, url, 1)  # warm up: the notice read is remembered from here on
    dialect = app.extensions["tipline.engine"].dialect.name
    posts = _tip_posts(app, client, url, 4)
    # On PostgreSQL the notice read is sometimes remembered: the counts vary below the bound.
    assert max(len(seen) for seen in posts) <= MAX_ROUND_TRIPS[dialect], posts
    for seen in posts:  # what was counted is the tip's POST
        assert seen[-1] == "COMMIT" and any("INSERT INTO tip " in s for s in seen)


def test_no_follower_lookup_happens_inside_the_tips_transaction(app, client, published_notice):
    """Whether anyone follows the notice is read with the notice, before the transaction
    that holds the chain lock (SQLite: the write lock) begins."""
    url = f"/notices/{published_notice.slug}/tip"
    for seen in _tip_posts(app, client, url, 3):
        begin = next(i for i, s in enumerate(seen) if s.startswith("BEGIN"))
        assert not any("notice_follow" in s for s in seen[begin:]), seen
