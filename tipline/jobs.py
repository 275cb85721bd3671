"""Background work on huey: SQLite storage in the instance folder by default, Redis when
``REDIS_URL`` is set. ``tipline worker`` runs the consumer; web requests only enqueue.

Tasks are registered on each app's own ``Huey`` instance (``app.extensions["tipline.jobs"]``),
so a worker started for one configuration never runs another's tasks.
"""

from __future__ import annotations

import logging
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tipline import audit, db
from tipline.triage import escalation, follows, intake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jobs:
    huey: Huey
    notify_followers: TaskWrapper
    # Issue 6: e-mail for an escalation, and the periodic tasks (call ``.call_local()`` to
    # run a body in-process, as the tests do).
    mail_escalation: TaskWrapper
    escalation_sweep: TaskWrapper
    stale_claims: TaskWrapper
    tip_retention: TaskWrapper
    notice_details_retention: TaskWrapper
    audit_checkpoint: TaskWrapper
    housekeeping: TaskWrapper
    reward_expiry: TaskWrapper


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

    def write_session() -> Any:
        return app.extensions["tipline.write_sessionmaker"]()

    @huey.task(retries=3, retry_delay=60)
    def mail_escalation(escalation_id: int) -> int:
        """E-mail the supervisors a link to an escalation; returns how many were sent."""
        from tipline.triage.models import Escalation

        with app.app_context(), app.extensions["tipline.sessionmaker"]() as session:
            found = session.scalar(
                select(Escalation)
                .where(Escalation.id == escalation_id)
                .options(selectinload(Escalation.tip))
            )
            addresses = list(current_app.config["SUPERVISOR_EMAILS"] or [])
            if found is None or not addresses:
                return 0
            subject, body = escalation.escalation_mail(found, current_app.config["STAFF_BASE_URL"])
            settings = MailSettings.from_config(current_app.config)
            for address in addresses:
                send_mail(settings, address, subject, body)
            return len(addresses)

    @huey.periodic_task(crontab(minute="*"))
    def escalation_sweep() -> list[int]:
        """Escalate overdue tips; the e-mails are queued only after the sweep has committed."""
        with app.app_context(), write_session() as session:
            created = escalation.escalate_overdue(session, db.utcnow())
            session.commit()
        for escalation_id in created:
            try:
                mail_escalation(escalation_id)
            except Exception:  # the escalation is saved and shown; the page is the fallback
                log.exception("could not queue the e-mail for escalation %s", escalation_id)
        return created

    @huey.periodic_task(crontab(minute="*"))
    def stale_claims() -> list[str]:
        """Put claims nobody worked for STALE_CLAIM_MINUTES back in the queue."""
        with app.app_context(), write_session() as session:
            minutes = int(current_app.config["STALE_CLAIM_MINUTES"])
            returned = escalation.return_stale_claims(session, db.utcnow(), minutes)
            session.commit()
        return returned

    @huey.periodic_task(crontab(minute="17", hour="3"))
    def tip_retention() -> list[str]:
        """Empty tips closed longer ago than TIP_RETENTION_DAYS (tombstones stay)."""
        from tipline.tips import retention

        with app.app_context(), write_session() as session:
            days = int(current_app.config["TIP_RETENTION_DAYS"])
            purged = retention.purge_expired_tips(session, db.utcnow(), days)
            session.commit()
        return purged

    @huey.periodic_task(crontab(minute="27", hour="3"))
    def notice_details_retention() -> list[str]:
        """Remove photos and personal details of notices resolved long enough ago."""
        from tipline.notices import workflow

        with app.app_context(), write_session() as session:
            days = int(current_app.config["NOTICE_DETAILS_RETENTION_DAYS"])
            done = workflow.remove_expired_details(session, db.utcnow(), retention_days=days)
            session.commit()
            return [notice.slug for notice in done]

    @huey.periodic_task(crontab(minute="*/5"))
    def audit_checkpoint() -> int:
        """Sign the audit chain head into the checkpoint file; returns its sequence number."""
        from tipline.audit.checkpoints import write_checkpoint

        with app.app_context(), app.extensions["tipline.sessionmaker"]() as session:
            config = current_app.config
            made = write_checkpoint(
                session, config["AUDIT_SIGNING_KEY_FILE"], config["AUDIT_CHECKPOINT_FILE"]
            )
        return made.seq

    @huey.periodic_task(crontab(minute="41"))
    def housekeeping() -> dict[str, int]:
        """Remove what has outlived its use: expired receipt sessions, the sealed receipt
        codes of forms past the resubmit window, and sign-in throttle rows that count
        nothing. One audit event gives the counts when anything went."""
        from tipline.auth import services as auth
        from tipline.tips import retention

        with app.app_context():
            config = current_app.config
            now = db.utcnow()
            shown_before = now - timedelta(minutes=int(config["TIP_REPLAY_MINUTES"]))
            rules = auth.ThrottleRules.from_config(config)
            sweeps: dict[str, Callable[[Any], int]] = {
                "receipt_sessions": lambda s: retention.drop_expired_receipt_sessions(
                    s, now, HOUSEKEEPING_BATCH
                ),
                "receipt_codes": lambda s: retention.forget_shown_codes(
                    s, shown_before, HOUSEKEEPING_BATCH
                ),
                "login_throttles": lambda s: auth.prune_login_throttle(
                    s, now, rules, HOUSEKEEPING_BATCH
                ),
            }
            counts = {name: _in_batches(write_session, sweep) for name, sweep in sweeps.items()}
            if any(counts.values()):
                with write_session() as session:
                    audit.record(
                        session, audit.SYSTEM, "system.housekeeping", "system", "tipline", **counts
                    )
                    session.commit()
        return counts

    @huey.periodic_task(crontab(minute="7"))
    def reward_expiry() -> list[int]:
        """Expire approved rewards nobody collected before their payout code's expiry; each
        is audited with its amount and counted in the ledger as expired."""
        from tipline.rewards import payout

        with app.app_context(), write_session() as session:
            expired = payout.expire_unclaimed(session, db.utcnow())
            session.commit()
        return expired

    jobs = Jobs(
        huey=huey,
        notify_followers=notify_followers,
        mail_escalation=mail_escalation,
        escalation_sweep=escalation_sweep,
        stale_claims=stale_claims,
        tip_retention=tip_retention,
        notice_details_retention=notice_details_retention,
        audit_checkpoint=audit_checkpoint,
        housekeeping=housekeeping,
        reward_expiry=reward_expiry,
    )
    app.extensions["tipline.jobs"] = jobs
    due_minutes = {**intake.DEFAULT_DUE_MINUTES, **app.config["TRIAGE_DUE_MINUTES"]}
    # Requests write through the write sessionmaker; scripts and tests through the plain one.
    # Both must give every new tip its due time and tell the followers.
    for name in ("tipline.sessionmaker", "tipline.write_sessionmaker"):
        intake.install(app.extensions[name], due_minutes, notify_followers)


#: Rows one housekeeping transaction touches at most (SQLite holds its write lock meanwhile).
HOUSEKEEPING_BATCH = 2000


def _in_batches(new_session: Callable[[], Any], sweep: Callable[[Any], int]) -> int:
    """Run ``sweep`` in committed transactions until a batch comes back short."""
    total = 0
    while True:
        with new_session() as session:
            done = sweep(session)
            session.commit()
        total += done
        if done < HOUSEKEEPING_BATCH:
            return total


def jobs_for(app: Flask) -> Jobs:
    return app.extensions["tipline.jobs"]
