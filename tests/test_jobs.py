"""Background jobs: follower e-mails go through the huey queue to a real SMTP server (aiosmtpd),
carry a link and no tip content, and a dead queue never costs a tip."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from huey import RedisHuey, SqliteHuey
from sqlalchemy import func, select

from tipline import create_app, outbox
from tipline.auth.models import Role
from tipline.jobs import jobs_for
from tipline.tips.models import Tip

from .conftest import DATA_KEY, REDIS_URL, SECRET, app_config, confirmed_follow, csrf_token

TIPLINE = str(Path(sys.executable).parent / "tipline")
NARRATIVE = "She drives a green Buick, plate ABC-1234"
WHERE = "Behind the Piggly Wiggly on Claiborne"


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, _server, _session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, count: int, seconds: float) -> list:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_env(database_url: str, instance: Path, smtp_port: int, **extra: str) -> dict:
    """The environment a `tipline worker` process gets in these tests (``extra``: more
    TIPLINE_* variables)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")},
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_DATA_KEY": DATA_KEY,
        "TIPLINE_DATABASE_URL": database_url,
        "TIPLINE_INSTANCE_PATH": str(instance),
        "TIPLINE_SMTP_HOST": "127.0.0.1",
        "TIPLINE_SMTP_PORT": str(smtp_port),
        "TIPLINE_MAIL_FROM": "tipline@example.org",
        "TIPLINE_STAFF_BASE_URL": "https://tips.example.org",
        **extra,
    }


def run_worker_until(inbox: Inbox, count: int, env: dict, seconds: float = 30) -> tuple[list, str]:
    """Run a real `tipline worker` until ``count`` e-mails arrived (or time ran out); returns
    the messages and what the worker printed."""
    worker = subprocess.Popen(
        [TIPLINE, "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        messages = inbox.wait_for(count, seconds)
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    return messages, output


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def mail_config(database_url: str, instance: Path, port: int, **more) -> dict:
    return app_config(
        database_url,
        instance,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        MAIL_FROM="tipline@example.org",
        STAFF_BASE_URL="https://tips.example.org",
        **more,
    )


def follow_and_send_a_tip(app, session, make_staff, notice) -> Tip:
    detective = make_staff(Role.DETECTIVE, "det")
    confirmed_follow(session, detective, notice, "det@example.org")
    session.commit()
    return send_a_tip(app, session, notice)


def send_a_tip(app, session, notice) -> Tip:
    client = app.test_client()
    url = f"/notices/{notice.slug}/tip"
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "narrative": NARRATIVE,
            "seen_where": WHERE,
            "seen_when": "at noon",
        },
    )
    assert response.status_code == 200  # the receipt
    session.rollback()
    return session.scalar(select(Tip).order_by(Tip.id.desc()).limit(1))


def assert_link_only(message, tip: Tip) -> None:
    body = message.get_content()
    assert message["To"] == "det@example.org"
    assert message["From"] == "tipline@example.org"
    assert f"https://tips.example.org/staff/tips/{tip.public_ref}" in body
    everything = message.as_string()
    for secret in ["Buick", "ABC-1234", "Piggly", "Claiborne", "noon", "Alexis", "Doe"]:
        assert secret not in everything


def test_task_body_mails_each_follower_a_link_and_nothing_else(
    database_url, tmp_path, smtp, published_notice, make_staff
):
    """Huey's immediate mode, for the task body only; the worker test below runs it for real."""
    inbox, port = smtp
    app = create_app(mail_config(database_url, tmp_path / "i", port, HUEY_IMMEDIATE=True))
    with app.extensions["tipline.sessionmaker"]() as session:
        tip = follow_and_send_a_tip(app, session, make_staff, published_notice)
    [message] = inbox.wait_for(1, 5)
    assert_link_only(message, tip)
    app.extensions["tipline.engine"].dispose()


@pytest.mark.slow
def test_a_real_worker_process_delivers_the_follower_email(
    database_url, tmp_path, smtp, published_notice, make_staff
):
    """The web request only enqueues (SQLite storage in the instance folder); a separate
    `tipline worker` process picks the task up and sends the e-mail."""
    inbox, port = smtp
    instance = tmp_path / "instance"
    app = create_app(mail_config(database_url, instance, port))
    assert isinstance(jobs_for(app).huey, SqliteHuey)
    with app.extensions["tipline.sessionmaker"]() as session:
        tip = follow_and_send_a_tip(app, session, make_staff, published_notice)
    assert inbox.messages == []  # nothing was sent inside the request
    assert len(jobs_for(app).huey) == 1  # one task waiting in the queue
    messages, output = run_worker_until(inbox, 1, worker_env(database_url, instance, port))
    assert len(messages) == 1, output
    assert_link_only(messages[0], tip)
    app.extensions["tipline.engine"].dispose()


def test_a_task_is_queued_only_for_a_notice_someone_follows(
    database_url, tmp_path, published_notice, make_staff
):
    app = create_app(mail_config(database_url, tmp_path / "instance", 25))
    queue = jobs_for(app).huey
    with app.extensions["tipline.sessionmaker"]() as session:
        first = send_a_tip(app, session, published_notice)
        assert first is not None and len(queue) == 0  # no follower: nothing to mail
        session.rollback()  # end the read, so the follow below can write on SQLite
        second = follow_and_send_a_tip(app, session, make_staff, published_notice)
        assert second.id != first.id and len(queue) == 1
    app.extensions["tipline.engine"].dispose()


def test_redis_url_selects_the_redis_queue(database_url, tmp_path):
    app = create_app(mail_config(database_url, tmp_path, 25, REDIS_URL=REDIS_URL))
    assert isinstance(jobs_for(app).huey, RedisHuey)
    app.extensions["tipline.engine"].dispose()


def test_a_dead_queue_does_not_lose_or_fail_the_tip(
    database_url, tmp_path, published_notice, make_staff, caplog
):
    # Nothing listens on port 9: every enqueue fails with a connection error.
    app = create_app(mail_config(database_url, tmp_path, 25, REDIS_URL="redis://127.0.0.1:9/0"))
    with app.extensions["tipline.sessionmaker"]() as session:
        tip = follow_and_send_a_tip(app, session, make_staff, published_notice)
        assert tip is not None and tip.narrative == NARRATIVE
        assert session.scalar(select(func.count()).select_from(Tip)) == 1
    logged = [r for r in caplog.records if "follower notification" in r.getMessage()]
    assert logged and "outbox keeps it" in logged[0].getMessage()
    assert NARRATIVE not in caplog.text
    with app.extensions["tipline.sessionmaker"]() as session:  # the e-mail waits in the outbox
        [waiting] = outbox.undelivered(session)
        assert waiting.recipient == "det@example.org" and tip.public_ref in waiting.body
    app.extensions["tipline.engine"].dispose()


def test_a_module_level_task_runs_on_the_queue_of_the_app_it_is_called_in(database_url, tmp_path):
    """The tasks are declared once, in tipline/jobs/tasks.py; each app registers them on its own
    queue, so calling one queues it there and nowhere else."""
    from tipline.jobs import tasks

    one = create_app(mail_config(database_url, tmp_path / "one", 25))
    two = create_app(mail_config(database_url, tmp_path / "two", 25))
    with one.app_context():
        tasks.deliver_outbox()
        assert tasks.catch_up.call_local() == []
    assert len(jobs_for(one).huey) == 1 and len(jobs_for(two).huey) == 0
    assert jobs_for(one).huey.dequeue().name == "deliver_outbox"
    for app in (one, two):
        assert {t.name for t in jobs_for(app).huey._registry.periodic_tasks} >= {"catch_up"}
