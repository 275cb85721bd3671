"""The production stack end to end: gunicorn (2 workers) and `tipline worker` against one
PostgreSQL and one Redis, as deploy/ runs them. A tip posted over HTTP lands in a detective's
queue, the worker sends the follower's e-mail, the rate limiter counts in Redis, then every
process is stopped."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tipline import create_app
from tipline.auth import totp
from tipline.auth.models import Role, StaffUser

from .conftest import (
    DATA_KEY,
    PASSWORD,
    REDIS_URL,
    SECRET,
    confirmed_follow,
    enrol_authenticator,
    publish_new_notice,
)
from .servers import free_port, start_gunicorn, stop
from .test_jobs import Inbox

pytestmark = pytest.mark.slow

TIPLINE = str(Path(sys.executable).parent / "tipline")
NARRATIVE = "Production stack: seen at the Canal streetcar stop"


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _form(opener, url: str) -> dict[str, str]:
    """The hidden fields (CSRF token, one-time form token) of the form at ``url``."""
    with opener.open(url) as response:
        page = response.read().decode()
    return dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*type="hidden"[^>]*value="([^"]*)"', page))


def _post(opener, url: str, fields: dict[str, str]) -> str:
    with opener.open(url, data=urllib.parse.urlencode(fields).encode()) as response:
        return response.read().decode()


def test_gunicorn_worker_postgresql_and_redis_take_a_tip_to_the_queue_and_the_mail(
    new_pg_schema, redis_db, tmp_path
):
    database_url = new_pg_schema()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")},
        "TIPLINE_SECRET_KEY": SECRET,
        "TIPLINE_DATA_KEY": DATA_KEY,
        "TIPLINE_DATABASE_URL": database_url,
        "TIPLINE_REDIS_URL": REDIS_URL,
        "TIPLINE_INSTANCE_PATH": str(tmp_path),
        "TIPLINE_SMTP_HOST": "127.0.0.1",
        "TIPLINE_SMTP_PORT": str(smtp_port),
        "TIPLINE_MAIL_FROM": "tipline@example.org",
        "TIPLINE_STAFF_BASE_URL": "https://tips.example.org",
        # Plain HTTP on loopback: the Secure/__Host- cookie would never be sent back here.
        "TIPLINE_SESSION_COOKIE_SECURE": "false",
    }
    processes: list[subprocess.Popen] = []
    try:
        upgrade = subprocess.run(
            [TIPLINE, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
        )
        assert upgrade.returncode == 0, upgrade.stderr

        # The newsroom and the squad room, set up through the services.
        app = create_app(
            {"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
        )
        with app.extensions["tipline.sessionmaker"]() as session:
            notice = publish_new_notice(session)
            from tipline.auth import services as auth

            detective = auth.create_user(session, "det", PASSWORD, Role.DETECTIVE, "test")
            enrol_authenticator(session, detective, SECRET)
            detective.totp_last_step = None  # enrolment used this step's code; sign in with it
            confirmed_follow(session, detective, notice, "det@example.org")
            session.commit()
            slug = notice.slug
        app.extensions["tipline.engine"].dispose()

        port = free_port()
        processes.append(start_gunicorn("tipline:create_app()", port, env, workers=2))
        processes.append(
            subprocess.Popen(
                [TIPLINE, "worker", "--workers", "1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        base = f"http://127.0.0.1:{port}"

        public = _opener()
        tip_url = f"{base}/notices/{slug}/tip"
        receipt = _post(public, tip_url, {**_form(public, tip_url), "narrative": NARRATIVE})
        assert "Your tip was received" in receipt

        staff = _opener()
        login = f"{base}/staff/login"
        with app.extensions["tipline.sessionmaker"]() as session:
            secret = totp.secret_of(
                session.scalar(select(StaffUser).where(StaffUser.username == "det")),
                app.config["DATA_KEY"],
            )
        queue = _post(
            staff,
            login,
            {
                **_form(staff, login),
                "username": "det",
                "password": PASSWORD,
                "code": pyotp.TOTP(secret).now(),
            },
        )
        assert NARRATIVE in queue

        [message] = inbox.wait_for(1, 60)
        assert message["To"] == "det@example.org"
        assert "https://tips.example.org/staff/tips/" in message.get_content()
        assert "Canal" not in message.as_string()  # a link, never the tip

        # The rate limiter counted the tip post in Redis, under no address.
        keys = [k.decode() for k in redis_db.keys("*")]
        assert any("tip-post" in k for k in keys), keys
        assert not any("127.0.0.1" in k for k in keys), keys
    finally:
        for process in reversed(processes):
            stop(process)
        controller.stop()
    assert all(p.poll() is not None for p in processes)
