"""Bounded waits: a held lock, a busy SQLite file or a silent dependency ends in the "not
saved" page (or a 503 from /readyz) within the configured bound, never a killed worker."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy import create_engine, make_url, select

from tipline import create_app
from tipline.tips.models import Tip
from tipline.web import health

from ..conftest import app_config
from .test_outage import NARRATIVE, _post_tip

#: Seconds a held lock makes a tip wait in these tests, and the most the page may take.
LOCK_SECONDS = 1
BOUND_SECONDS = 6


def _without_test_lock_timeout(url: str) -> str:
    """The test database URL without the suite's 30 s lock_timeout, so the app's own applies."""
    parsed = make_url(url)
    options = parsed.query.get("options")
    if not options:
        return url
    kept = " ".join(o for o in options.split() if "lock_timeout" not in o)
    return parsed.update_query_dict({"options": kept}).render_as_string(hide_password=False)


@pytest.fixture
def impatient_app(database_url, tmp_path):
    app = create_app(
        app_config(
            _without_test_lock_timeout(database_url),
            tmp_path / "instance",
            DATABASE_LOCK_TIMEOUT=LOCK_SECONDS,
            DATABASE_BUSY_TIMEOUT=LOCK_SECONDS,
            DATABASE_STATEMENT_TIMEOUT=3,
        )
    )
    yield app
    app.extensions["tipline.engine"].dispose()


def test_a_held_lock_gives_the_not_saved_page_with_text_within_the_bound(
    impatient_app, database_url
):
    """PostgreSQL: another connection holds the tip table locked; SQLite: another connection
    holds the write lock. The tipster gets the 503 page with their words, in seconds."""
    client = impatient_app.test_client()
    page = client.get("/tip").get_data(as_text=True)
    holder = create_engine(database_url)
    with holder.connect() as held:
        if held.dialect.name == "sqlite":
            held.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            held.exec_driver_sql("BEGIN")
            held.exec_driver_sql("LOCK TABLE tip IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = _post_tip(client, "/tip", page)
        took = time.monotonic() - started
        held.rollback()
    holder.dispose()
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "Your tip was not saved" in body and NARRATIVE in body
    assert took < BOUND_SECONDS, f"the tipster waited {took:.1f} s"
    with impatient_app.extensions["tipline.sessionmaker"]() as s:
        assert s.scalar(select(Tip.id)) is None
    # The lock gone, the same form (the text kept in it) is saved.
    again = _post_tip(client, "/tip", body)
    assert again.status_code == 200 and "receipt" in again.get_data(as_text=True).lower()


def test_postgresql_engines_carry_the_configured_timeouts(impatient_app):
    engine = impatient_app.extensions["tipline.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL settings")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "1s"
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "3s"
        assert connection.exec_driver_sql("SHOW search_path").scalar().startswith("tipline_test")


def test_sqlite_busy_timeout_is_the_configured_one(impatient_app):
    engine = impatient_app.extensions["tipline.engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite setting")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == LOCK_SECONDS * 1000


def test_readyz_answers_within_its_bound_when_the_database_hangs(app, client, monkeypatch):
    release = threading.Event()

    def hangs(_engine):
        release.wait(30)
        return True

    monkeypatch.setattr(health, "database_answers", hangs)
    app.config["READY_TIMEOUT"] = 0.5
    started = time.monotonic()
    response = client.get("/readyz")
    took = time.monotonic() - started
    release.set()
    assert response.status_code == 503
    assert "the database does not answer" in response.get_data(as_text=True)
    assert took < 3


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections and never answers: a stalled Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_stalled_redis_costs_a_tip_under_a_few_seconds_and_refuses_nothing(
    database_url, tmp_path, silent_redis
):
    app = create_app(app_config(database_url, tmp_path / "instance", REDIS_URL=silent_redis))
    try:
        client = app.test_client()
        page = client.get("/tip").get_data(as_text=True)
        started = time.monotonic()
        response = _post_tip(client, "/tip", page)
        took = time.monotonic() - started
        assert response.status_code == 200, response.get_data(as_text=True)[:400]
        assert took < BOUND_SECONDS, f"the tipster waited {took:.1f} s"
        with app.extensions["tipline.sessionmaker"]() as s:
            assert s.scalar(select(Tip.narrative)) == NARRATIVE
    finally:
        app.extensions["tipline.engine"].dispose()
