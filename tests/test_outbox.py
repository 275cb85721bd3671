"""The durable outbox: staff e-mails are rows written with the event that causes them, sent by
the worker from the database at least once, with a stable Message-ID; Redis may lose every
task and no e-mail is lost; the sweep goes before any mail backlog; missed jobs catch up."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from datetime import timedelta

import pytest
import redis
from huey import SqliteHuey
from sqlalchemy import func, select, update

from tipline import create_app, outbox
from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.jobs import PERIODIC_PRIORITY, jobs_for
from tipline.schedule import JobRun

from .conftest import confirmed_follow, sign_in
from .test_jobs import (  # noqa: F401 - smtp is a fixture
    follow_and_send_a_tip,
    free_port,
    mail_config,
    smtp,
)


@pytest.fixture
def private_redis():
    """A redis-server of this test's own on a free port (flushing it touches no one else's)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    server.terminate()
    server.wait(10)


def _app(database_url, tmp_path, port, **more):
    return create_app(mail_config(database_url, tmp_path / "i", port, **more))


def test_follower_mail_survives_redis_losing_everything(
    database_url,
    tmp_path,
    smtp,  # noqa: F811 - the fixture imported above
    private_redis,
    published_notice,
    make_staff,
):
    inbox, port = smtp
    app = _app(database_url, tmp_path, port, REDIS_URL=private_redis)
    try:
        with app.extensions["tipline.sessionmaker"]() as session:
            tip = follow_and_send_a_tip(app, session, make_staff, published_notice)
            assert len(jobs_for(app).huey) == 1  # "deliver now" waits in Redis
        redis.Redis.from_url(private_redis).flushall()  # a restart with no persistence
        assert len(jobs_for(app).huey) == 0
        counts = jobs_for(app).deliver_outbox.call_local()  # the next minute's run
        assert counts == {"sent": 1, "failed": 0, "left": 0}
        [message] = inbox.wait_for(1, 5)
        assert tip.public_ref in message.get_content() and message["Message-ID"]
        with app.extensions["tipline.sessionmaker"]() as session:
            assert outbox.undelivered(session) == []
    finally:
        app.extensions["tipline.engine"].dispose()


def test_mail_is_written_in_the_tips_transaction(app, session, published_notice, make_staff):
    """A tip that rolls back leaves no e-mail; one that commits leaves exactly its own."""

    from .test_jobs import send_a_tip

    detective = make_staff(Role.DETECTIVE, "det")
    confirmed_follow(session, detective, published_notice, "det@example.org")
    session.commit()
    send_a_tip(app, session, published_notice)
    assert session.scalar(select(func.count()).select_from(outbox.OutboxMessage)) == 1
    with app.extensions["tipline.sessionmaker"]() as other:
        from tipline.tips import services as tips
        from tipline.tips.receipts import receipt_key

        tips.submit_tip(
            other,
            tips.TipReport(narrative="rolled back"),
            receipt_key(app.secret_key),
            notice=other.merge(published_notice),
            data_key=app.config["DATA_KEY"],
        )
        other.flush()
        assert other.scalar(select(func.count()).select_from(outbox.OutboxMessage)) == 2
        other.rollback()
    assert session.scalar(select(func.count()).select_from(outbox.OutboxMessage)) == 1


def _one_message(app) -> int:
    with app.extensions["tipline.write_sessionmaker"]() as session:
        made = outbox.add(session, "escalation", "sgt@example.org", "Overdue", "A link", "x.org")
        session.commit()
        return made.id


def test_a_crash_after_the_server_accepted_resends_with_the_same_message_id_and_logs_it(
    database_url,
    tmp_path,
    smtp,  # noqa: F811 - the fixture imported above
    caplog,
):
    inbox, port = smtp
    app = _app(database_url, tmp_path, port)
    try:
        message_id = _one_message(app)
        sessions = app.extensions["tipline.write_sessionmaker"]
        real_send = jobs_send(app)

        def send_then_die(message):
            real_send(message)
            raise KeyboardInterrupt  # killed after SMTP accepted, before marking it sent

        with pytest.raises(KeyboardInterrupt):
            outbox.deliver_due(sessions, send_then_die)
        with sessions() as session:  # the dead run's claim expires
            session.execute(
                update(outbox.OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        caplog.set_level(logging.WARNING)
        assert outbox.deliver_due(sessions, real_send)["sent"] == 1
        first, second = inbox.wait_for(2, 5)
        assert first["Message-ID"] == second["Message-ID"]  # the duplicate can be dropped
        assert f"re-delivering outbox message {message_id}" in caplog.text
        assert outbox.deliver_due(sessions, real_send)["sent"] == 0  # sent is sent
    finally:
        app.extensions["tipline.engine"].dispose()


def jobs_send(app):
    from tipline.jobs import MailSettings, send_mail

    settings = MailSettings.from_config(app.config)
    return lambda m: send_mail(settings, m.recipient, m.subject, m.body, m.message_id)


def test_undelivered_mail_is_listed_for_supervisors_with_a_retry(
    database_url, tmp_path, make_staff
):
    dead_port = free_port()  # nothing listens there: every send is refused
    app = _app(database_url, tmp_path, dead_port)
    try:
        message_id = _one_message(app)
        counts = jobs_for(app).deliver_outbox.call_local()
        assert counts["failed"] == 1
        with app.extensions["tipline.sessionmaker"]() as session:
            [row] = outbox.undelivered(session)
            assert row.last_error == "ConnectionRefusedError" and row.next_attempt_at > utcnow()
        with app.extensions["tipline.sessionmaker"]() as session:
            from tipline.auth import services as auth

            from .conftest import PASSWORD, enrol_authenticator

            for role, name in ((Role.SUPERVISOR, "sup"), (Role.DETECTIVE, "det")):
                user = auth.create_user(session, name, PASSWORD, role, "test")
                enrol_authenticator(session, user, app.secret_key)
            session.commit()
        detective = app.test_client()
        sign_in(detective, "det")
        assert detective.get("/staff/outbox").status_code == 403
        staff = app.test_client()
        sign_in(staff, "sup")
        page = staff.get("/staff/outbox").get_data(as_text=True)
        assert "sgt@example.org" in page and "ConnectionRefusedError" in page
        from .conftest import csrf_token

        token = csrf_token(staff, "/staff/outbox")
        done = staff.post(f"/staff/outbox/{message_id}/retry", data={"csrf_token": token})
        assert done.status_code == 303
        with app.extensions["tipline.sessionmaker"]() as session:
            [row] = outbox.undelivered(session)
            assert row.next_attempt_at <= utcnow()
            assert (
                session.scalar(select(func.count()).where(AuditEvent.action == "outbox.retry")) == 1
            )
    finally:
        app.extensions["tipline.engine"].dispose()


def test_periodic_jobs_go_before_a_mail_backlog(database_url, tmp_path):
    """2,000 delivery runs waiting in the queue: the sweep, queued last, is taken first."""
    app = _app(database_url, tmp_path, 25)
    try:
        jobs = jobs_for(app)
        assert isinstance(jobs.huey, SqliteHuey)
        for _ in range(2000):
            jobs.huey.enqueue(jobs.deliver_outbox.s())
        jobs.huey.enqueue(jobs.escalation_sweep.s())
        assert jobs.huey.dequeue().name == "escalation_sweep"
        assert jobs.escalation_sweep.s().priority == PERIODIC_PRIORITY
    finally:
        app.extensions["tipline.engine"].dispose()


def test_a_delivery_run_stops_within_its_budget_and_leaves_the_rest(
    database_url, tmp_path, make_staff
):
    """2,000 e-mails and a slow mail server: one run sends for its budget and stops, so the
    worker thread is free for the sweep; the rest wait for the next run."""
    app = _app(database_url, tmp_path, 25, OUTBOX_RUN_SECONDS=1)
    try:
        with app.extensions["tipline.write_sessionmaker"]() as session:
            for n in range(2000):
                outbox.add(session, "follower", f"d{n}@example.org", "New tip", "A link", "x.org")
            session.commit()
        sessions = app.extensions["tipline.write_sessionmaker"]
        started = time.monotonic()
        counts = outbox.deliver_due(sessions, lambda _m: time.sleep(0.05), seconds=1)
        took = time.monotonic() - started
        assert took < 5 and 0 < counts["sent"] < 2000
        assert counts["sent"] + counts["left"] == 2000
    finally:
        app.extensions["tipline.engine"].dispose()


def test_a_missed_daily_job_runs_when_the_worker_is_back(database_url, tmp_path):
    app = _app(database_url, tmp_path, 25, HUEY_IMMEDIATE=True)
    try:
        jobs = jobs_for(app)
        assert jobs.catch_up.call_local() == []  # never recorded: nothing to catch up
        jobs.tip_retention.call_local()  # a normal run records itself
        with app.extensions["tipline.sessionmaker"]() as session:
            assert session.get(JobRun, "tip_retention") is not None
        assert "tip_retention" not in jobs.catch_up.call_local()
        with app.extensions["tipline.write_sessionmaker"]() as session:  # down over 03:17
            session.execute(
                update(JobRun).values(finished_at=utcnow() - timedelta(days=1, hours=1))
            )
            session.commit()
        caught = jobs.catch_up.call_local()
        assert caught == ["tip_retention"]  # the others never ran here: not "missed"
        with app.extensions["tipline.sessionmaker"]() as session:
            ran = session.get(JobRun, "tip_retention").finished_at
            assert utcnow() - ran < timedelta(minutes=1)
        assert "tip_retention" not in jobs.catch_up.call_local()
    finally:
        app.extensions["tipline.engine"].dispose()
