"""Background work on huey: SQLite storage in the instance folder by default, Redis when
``REDIS_URL`` is set. ``tipline worker`` runs the consumer; web requests only enqueue.

Tasks are registered on each app's own ``Huey`` instance (``app.extensions["tipline.jobs"]``),
so a worker started for one configuration never runs another's tasks.
"""

from __future__ import annotations

import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from tipline import db
from tipline.triage import follows, intake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jobs:
    huey: Huey
    notify_followers: TaskWrapper


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    mail_from: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            mail_from=config["MAIL_FROM"],
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            starttls=bool(config.get("SMTP_STARTTLS")),
        )


def send_mail(settings: MailSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def redis_url(app: Flask) -> str | None:
    return app.config.get("REDIS_URL") or os.environ.get("REDIS_URL") or None


def make_huey(app: Flask) -> Huey:
    url = redis_url(app)
    immediate = bool(app.config.get("HUEY_IMMEDIATE"))
    if url:
        return RedisHuey("tipline", url=url, immediate=immediate)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    path = Path(app.instance_path) / "huey.sqlite3"
    return SqliteHuey("tipline", filename=str(path), immediate=immediate)


def init_app(app: Flask) -> None:
    """Create the app's queue, register its tasks and attach the tip-intake events."""
    huey = make_huey(app)

    @huey.task(retries=3, retry_delay=60)
    def notify_followers(tip_id: int) -> int:
        """E-mail each follower of the tip's notice a link to it; returns how many were sent."""
        with app.app_context():
            session = db.session()
            mails = follows.notifications_for_tip(
                session, tip_id, current_app.config["STAFF_BASE_URL"]
            )
            settings = MailSettings.from_config(current_app.config)
            for mail in mails:
                send_mail(settings, mail.to, mail.subject, mail.body)
            return len(mails)

    jobs = Jobs(huey=huey, notify_followers=notify_followers)
    app.extensions["tipline.jobs"] = jobs
    due_minutes = {**intake.DEFAULT_DUE_MINUTES, **app.config["TRIAGE_DUE_MINUTES"]}
    # Requests write through the write sessionmaker; scripts and tests through the plain one.
    # Both must give every new tip its due time and tell the followers.
    for name in ("tipline.sessionmaker", "tipline.write_sessionmaker"):
        intake.install(app.extensions[name], due_minutes, notify_followers)


def jobs_for(app: Flask) -> Jobs:
    return app.extensions["tipline.jobs"]
