"""Background work on huey: SQLite storage in the instance folder by default, Redis when
``REDIS_URL`` is set. ``tipline worker`` runs the consumer; web requests only enqueue.

``queue.py`` holds the task table and each app's queue, ``tasks.py`` the tasks themselves
(module-level functions), ``mail.py`` the SMTP settings. Periodic work goes before e-mail in
the queue (``PERIODIC_PRIORITY``); e-mail goes through the durable outbox
(``tipline.outbox``), which ``deliver_outbox`` empties every minute and whenever a commit
wrote to it.
"""

from __future__ import annotations

from flask import Flask

from tipline.triage.intake import FollowerMail

from . import tasks
from .mail import MailSettings, mail_domain, send_mail
from .queue import DECLARED, PERIODIC_PRIORITY, Jobs, jobs_for, kick, make_huey, redis_url
from .tasks import sign_tree_head_if_grown

__all__ = [
    "PERIODIC_PRIORITY",
    "Jobs",
    "MailSettings",
    "init_app",
    "jobs_for",
    "redis_url",
    "send_mail",
    "sign_tree_head_if_grown",
    "tasks",
]


def init_app(app: Flask) -> None:
    """Create the app's queue and register every declared task on it (``tipline.hooks``
    attaches the tip-intake events, with ``follower_mail``)."""
    huey = make_huey(app)
    registered = {name: declared.register(app, huey) for name, declared in DECLARED.items()}
    app.extensions["tipline.jobs"] = Jobs(
        huey=huey,
        tasks=registered,
        follower_mail=FollowerMail(
            app.config["STAFF_BASE_URL"],
            mail_domain(app.config),
            lambda: kick(registered["deliver_outbox"], "the follower notification"),
        ),
    )
