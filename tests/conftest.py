"""Fixtures: an app per test on a fresh database, SQLite and PostgreSQL both.

Set ``TIPLINE_TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) to run the PostgreSQL half; without it
that half is skipped with a reason, except under CI, where it fails instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, make_url, select, text
from sqlalchemy.orm import Session

from tipline import create_app, db, migrations
from tipline.auth import services as auth
from tipline.auth import totp, units
from tipline.auth.models import Role, StaffUser, Unit
from tipline.db import Base
from tipline.demo import DEMO_NOTICE
from tipline.notices import changes, workflow
from tipline.notices import services as notices
from tipline.notices.models import ChangeKind, Notice, Resolution
from tipline.outbox import OutboxMessage
from tipline.triage import follows

PG_URL = os.environ.get("TIPLINE_TEST_DATABASE_URL")
#: The one Redis database the tests use, and empty before and after each test that uses it.
#: Point it elsewhere if database 13 of the local Redis holds anything you want to keep.
REDIS_URL = os.environ.get("TIPLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
IN_CI = os.environ.get("CI", "").lower() == "true"
SECRET = "test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"
# Every app a test builds gets a data key (production refuses to start without one); tests of
# the refusal take it away with monkeypatch.
DATA_KEY = "dGVzdC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLW9rISE="
os.environ.setdefault("TIPLINE_DATA_KEY", DATA_KEY)


def pg_url_in_schema(url: str, schema: str) -> str:
    """``url`` with every connection's search_path set to ``schema``."""
    return (
        make_url(url)
        # A test that waits on a lock its own thread holds fails after 30 s instead of
        # hanging the run (the concurrency tests wait far less than that).
        .update_query_dict({"options": f"-csearch_path={schema} -clock_timeout=30s"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def new_pg_schema() -> Iterator[callable]:
    """A factory for empty PostgreSQL schemas, all dropped at the end of the run."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI must run the PostgreSQL half: TIPLINE_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL half skipped: TIPLINE_TEST_DATABASE_URL is not set")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"tipline_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        made.append(name)
        return pg_url_in_schema(PG_URL, name)

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def redis_db():
    """A client on the test Redis database (``TIPLINE_TEST_REDIS_URL``), emptied around the
    test. Without Redis the test is skipped, except under CI, where it fails."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.ConnectionError, OSError):
        if IN_CI or os.environ.get("TIPLINE_REQUIRE_REDIS"):
            pytest.fail(f"Redis is not answering at {REDIS_URL} (TIPLINE_TEST_REDIS_URL)")
        pytest.skip(f"Redis is not answering at {REDIS_URL} (TIPLINE_TEST_REDIS_URL)")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def migrated_pg_url(new_pg_schema) -> str:
    url = new_pg_schema()
    engine = db.make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A migrated, empty database for one test."""
    if request.param == "sqlite":
        target = tmp_path / "tipline.sqlite3"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("migrated_pg_url")
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        # The append-only triggers (migration 0601) refuse TRUNCATE; as the superuser the
        # tests may switch them off for this one cleaning transaction.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@contextlib.contextmanager
def as_dba(app: Flask):
    """A connection in one transaction with the append-only triggers out of the way, as
    someone with the database owner's rights could arrange (the insider of the tamper tests)."""
    engine = app.extensions["tipline.engine"]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            triggers = conn.scalars(text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            for name in list(triggers):
                conn.execute(text(f"DROP TRIGGER {name}"))
        yield conn


@pytest.fixture(autouse=True)
def _dispose_engines_after_each_test(monkeypatch):
    """Close the pooled connections of every engine a test made (many build their own app):
    otherwise idle pools pile up over a whole run until PostgreSQL refuses new clients."""
    made = []
    real = db.make_engine

    def tracking(*args, **kwargs):
        engine = real(*args, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(db, "make_engine", tracking)
    yield
    for engine in made:
        engine.dispose()


def app_config(database_url: str, instance: Path, **more) -> dict:
    """The configuration of the ``app`` fixture's app: testing, the test secret, on
    ``database_url``, its instance folder at ``instance``; ``more`` on top."""
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        **more,
    }


@pytest.fixture
def app(database_url, tmp_path) -> Iterator[Flask]:
    application = create_app(app_config(database_url, tmp_path / "instance"))
    yield application
    application.extensions["tipline.engine"].dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


class HttpsClient(FlaskClient):
    """A test client whose requests go to https://localhost unless told otherwise, so that
    Flask-WTF's strict referer check (HTTPS only) is exercised."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", "https://localhost")
        return super().open(*args, **kwargs)


@pytest.fixture
def https_client(app) -> FlaskClient:
    """An HTTPS client that sends a same-origin Referer, as a browser would."""
    client = HttpsClient(app, app.response_class, use_cookies=True)
    client.environ_base["HTTP_REFERER"] = "https://localhost/staff/"
    return client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app) -> Iterator[Session]:
    """A database session outside any request, for arranging and checking.

    It deliberately pushes no app context: one left open would be shared by the test
    client's requests (and with it ``g``), hiding bugs that real requests would show.
    """
    with app.extensions["tipline.sessionmaker"]() as s:
        yield s


@pytest.fixture
def published_notice(session) -> Notice:
    notice = publish_new_notice(session)
    session.commit()
    return notice


def publish_new_notice(session, draft=DEMO_NOTICE, **changes) -> Notice:
    """Create a notice from ``draft`` (with ``changes``) and take it through the two-person
    flow to published. Flushed, not committed."""
    notice = notices.create_notice(session, dataclasses.replace(draft, **changes), "test-pio")
    workflow.submit_for_review(session, notice, "test-pio")
    workflow.publish_notice(session, notice, "test-supervisor")
    return notice


def resolve_notice(
    session, notice, resolution=Resolution.ARRESTED, on=None, now=None, requester="test-supervisor"
) -> None:
    """Take a published notice through the two-person resolution (flushed, not committed)."""
    on = on or (now.date() if now else datetime.date.today())
    change = changes.request_resolution(session, notice, requester, resolution, on, now=now)
    changes.approve_change(session, notice, change.id, "test-second-reviewer", now=now)


def approve_pending_edit(session, notice, approver="test-second-reviewer") -> None:
    """Approve the notice's pending edit (flushed, not committed)."""
    change = notice.pending(ChangeKind.EDIT)
    assert change is not None, "no edit is waiting for approval"
    changes.approve_change(session, notice, change.id, approver)


@pytest.fixture
def make_staff(app, session):
    """``make_staff(role, username=None, unit=None)``: an active account with the password
    ``PASSWORD`` and an enrolled authenticator, ready for :func:`sign_in`."""

    def make(role: Role, username: str | None = None, unit: str | None = None) -> StaffUser:
        user = auth.create_user(
            session,
            username or f"{role.value}-1",
            PASSWORD,
            role,
            "test",
            unit=unit_named(session, unit) if unit else None,
        )
        enrol_authenticator(session, user, app.secret_key)
        session.commit()
        return user

    return make


def unit_named(session: Session, name: str) -> Unit:
    """The unit called ``name``, added to the list if it is not there yet (flushed)."""
    return units.unit_named(session, name) or units.add_unit(session, "test", name)


def enrol_authenticator(session: Session, user: StaffUser, secret_key: str) -> list[str]:
    """Enrol ``user``'s authenticator as the enrolment page would; returns recovery codes."""
    secret = totp.start_enrolment(session, user, DATA_KEY)
    codes = totp.confirm_enrolment(
        session, user, pyotp.TOTP(secret).now(), totp.recovery_key(secret_key), DATA_KEY
    )
    assert codes is not None
    return codes


#: Where the follow confirmation links of the service-level tests point.
LINK_MAIL = follows.LinkMail("https://tips.example.org", "example.org")


def confirmed_follow(session: Session, user: StaffUser, notice: Notice, email: str) -> None:
    """``user`` follows ``notice`` at a confirmed ``email``, as if they had opened the link;
    its confirmation e-mail is taken out of the outbox (flushed), so the tests of follower
    mail see only follower mail. The confirmation itself is tested in test_follows.py."""
    token = follows.follow_notice(session, user, notice, email, LINK_MAIL)
    assert token is not None
    follows.confirm_follow(session, user, token)
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.kind == "follow-confirm", OutboxMessage.recipient == email
        )
    )
    session.flush()


def csrf_token(client: FlaskClient, url: str) -> str:
    """Fetch ``url`` like a browser and read the form's CSRF token out of the page."""
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD, next: str = ""):
    """Sign ``username`` in through the real sign-in form, second factor included.

    An account without an authenticator is enrolled first (as its first sign-in would).
    The account's last used TOTP step is cleared so that a test may sign the same account
    in twice within 30 seconds; the replay protection itself is tested on its own, without
    this helper. Returns the sign-in response (303 on success).
    """
    app = client.application
    code = "000000"
    with app.extensions["tipline.sessionmaker"]() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is not None:
            if not user.totp_enrolled:
                enrol_authenticator(s, user, app.secret_key)
            user.totp_last_step = None
            s.commit()
            code = pyotp.TOTP(totp.secret_of(user, app.config["DATA_KEY"])).now()
    url = "/staff/login" + (f"?next={next}" if next else "")
    token = csrf_token(client, url)
    return client.post(
        url,
        data={"csrf_token": token, "username": username, "password": password, "code": code},
    )


RECEIPT_RE = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){4}\b")


def receipt_code_on(page: str) -> str | None:
    """The receipt code a person would read on ``page`` (tags stripped), or None."""
    found = RECEIPT_RE.search(re.sub(r"<[^>]+>", "", page))
    return found.group(0) if found else None
