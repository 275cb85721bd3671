"""Background work on huey: SQLite storage in the instance folder by default, Redis when
``REDIS_URL`` is set. ``tipline worker`` runs the consumer; web requests only enqueue.

Tasks are registered on each app's own ``Huey`` instance (``app.extensions["tipline.jobs"]``),
so a worker started for one configuration never runs another's tasks.
"""

from __future__ import annotations

import functools
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app
from huey import Huey, PriorityRedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tipline import audit, db, outbox
from tipline import schedule as scheduling
from tipline.triage import escalation
from tipline.triage.intake import FollowerMail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Jobs:
    huey: Huey
    # Sends what the outbox holds (tipline/outbox.py): every minute, and whenever a commit
    # wrote to it. The periodic tasks below (call ``.call_local()`` to run a body
    # in-process, as the tests do) go before it in the queue: PERIODIC_PRIORITY.
    deliver_outbox: TaskWrapper
    catch_up: TaskWrapper
    # How new tips' follower e-mails reach the outbox (installed by ``tipline.hooks``).
    follower_mail: FollowerMail
    # An administrator's access change, to the supervisors (the alert itself is on the
    # oversight page; this e-mail is a courtesy and is not kept in the outbox).
    mail_access_alert: TaskWrapper
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


def send_mail(
    settings: MailSettings, to: str, subject: str, body: str, message_id: str | None = None
) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def redis_url(app: Flask) -> str | None:
    return app.config.get("REDIS_URL") or None


def make_huey(app: Flask) -> Huey:
    url = redis_url(app)
    immediate = bool(app.config.get("HUEY_IMMEDIATE"))
    if url:
        # Bounded waits: a stalled Redis fails an enqueue in about a second rather than
        # holding a request (the consumer's blocking read waits up to read_timeout=1 s, so
        # the socket timeout must be longer than that).
        pool = redis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=float(app.config["REDIS_CONNECT_TIMEOUT"]) * 2,
            socket_timeout=2.0,
        )
        # Priorities (Redis 5 or later): the sweep never waits behind a mail backlog.
        return PriorityRedisHuey("tipline", connection_pool=pool, immediate=immediate)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    path = Path(app.instance_path) / "huey.sqlite3"
    return SqliteHuey("tipline", filename=str(path), immediate=immediate)


def init_app(app: Flask) -> None:
    """Create the app's queue and register its tasks (``tipline.hooks`` attaches the tip-intake
    events, with ``follower_mail``)."""
    huey = make_huey(app)

    def write_session() -> Any:
        return app.extensions["tipline.write_sessionmaker"]()

    settings = MailSettings.from_config(app.config)

    def send(message: outbox.Outgoing) -> None:
        send_mail(settings, message.recipient, message.subject, message.body, message.message_id)

    @huey.periodic_task(crontab(minute="*"), name="deliver_outbox")
    def deliver_outbox() -> dict[str, int]:
        """Send the outbox's due e-mails for up to OUTBOX_RUN_SECONDS; if some are left,
        queue another run behind whatever periodic work came in meanwhile."""
        with app.app_context():
            seconds = float(current_app.config["OUTBOX_RUN_SECONDS"])
            counts = outbox.deliver_due(write_session, send, seconds=seconds)
        if counts["left"] and counts["sent"]:
            _kick(deliver_outbox, "the next outbox run")
        return counts

    #: Jobs on a sparse schedule, which catch_up runs when their slot passed unrun.
    catchable: dict[str, tuple[Callable[[datetime], bool], TaskWrapper]] = {}

    def periodic(
        schedule: Callable[[datetime], bool], catch_up: bool = False
    ) -> Callable[[Callable[[], Any]], TaskWrapper]:
        """A periodic task ahead of e-mail in the queue; with ``catch_up``, its finished runs
        are recorded in the database and a missed one is run when the worker is back."""

        def decorate(body: Callable[[], Any]) -> TaskWrapper:
            name = body.__name__
            if not catch_up:
                return huey.periodic_task(schedule, priority=PERIODIC_PRIORITY, name=name)(body)

            @functools.wraps(body)
            def run() -> Any:
                result = body()
                with write_session() as session:
                    scheduling.record_run(session, name, db.utcnow())
                    session.commit()
                return result

            task = huey.periodic_task(schedule, priority=PERIODIC_PRIORITY, name=name)(run)
            catchable[name] = (schedule, task)
            return task

        return decorate

    @periodic(crontab(minute="*"))
    def escalation_sweep() -> list[int]:
        """Escalate overdue tips; the supervisors' e-mails go into the outbox in the same
        transaction, and are sent once it has committed."""
        from tipline.triage.models import Escalation

        with app.app_context(), write_session() as session:
            config = current_app.config
            created = escalation.escalate_overdue(session, db.utcnow())
            addresses = list(config["SUPERVISOR_EMAILS"] or [])
            for escalation_id in created if addresses else []:
                found = session.scalar(
                    select(Escalation)
                    .where(Escalation.id == escalation_id)
                    .options(selectinload(Escalation.tip))
                )
                subject, body = escalation.escalation_mail(found, config["STAFF_BASE_URL"])
                for address in addresses:
                    outbox.add(session, "escalation", address, subject, body, mail_domain(config))
            session.commit()
        if created and addresses:
            _kick(deliver_outbox, "the escalation e-mails")
        return created

    @periodic(crontab(minute="*"))
    def stale_claims() -> list[str]:
        """Put claims nobody worked for STALE_CLAIM_MINUTES back in the queue."""
        with app.app_context(), write_session() as session:
            minutes = int(current_app.config["STALE_CLAIM_MINUTES"])
            returned = escalation.return_stale_claims(session, db.utcnow(), minutes)
            session.commit()
        return returned

    @periodic(crontab(minute="17", hour="3"), catch_up=True)
    def tip_retention() -> list[str]:
        """Empty tips closed longer ago than TIP_RETENTION_DAYS (tombstones stay)."""
        from tipline.triage import retention

        with app.app_context(), write_session() as session:
            days = int(current_app.config["TIP_RETENTION_DAYS"])
            purged = retention.purge_expired_tips(session, db.utcnow(), days)
            session.commit()
        return purged

    @periodic(crontab(minute="27", hour="3"), catch_up=True)
    def notice_details_retention() -> list[str]:
        """Remove photos and personal details of notices resolved long enough ago."""
        from tipline.notices import workflow

        with app.app_context(), write_session() as session:
            days = int(current_app.config["NOTICE_DETAILS_RETENTION_DAYS"])
            done = workflow.remove_expired_details(session, db.utcnow(), retention_days=days)
            session.commit()
            return [notice.slug for notice in done]

    @periodic(crontab(minute="*/5"), catch_up=True)
    def audit_checkpoint() -> int:
        """Sign the audit chain head into the checkpoint file; returns its sequence number."""
        from tipline.audit.checkpoints import write_checkpoint

        with app.app_context(), app.extensions["tipline.sessionmaker"]() as session:
            config = current_app.config
            made = write_checkpoint(
                session, config["AUDIT_SIGNING_KEY_FILE"], config["AUDIT_CHECKPOINT_FILE"]
            )
        sign_tree_head_if_grown(app)
        return made.seq

    @periodic(crontab(minute="41"), catch_up=True)
    def housekeeping() -> dict[str, int]:
        """Remove what has outlived its use: expired receipt sessions, the sealed receipt
        codes of forms past the resubmit window, staff text kept past its time, sign-in
        throttle rows that count nothing, and follows whose address was never confirmed. One
        audit event gives the counts when anything went."""
        from tipline.auth import drafts
        from tipline.auth import services as auth
        from tipline.triage import follows, retention

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
                "staff_drafts": lambda s: drafts.drop_expired(s, now, HOUSEKEEPING_BATCH),
                "unconfirmed_follows": lambda s: follows.drop_lapsed_follows(
                    s, now, HOUSEKEEPING_BATCH
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

    @periodic(crontab(minute="7"), catch_up=True)
    def reward_expiry() -> list[int]:
        """Expire approved rewards nobody collected before their payout code's expiry; each
        is audited with its amount and counted in the ledger as expired."""
        from tipline.rewards import payout

        with app.app_context(), write_session() as session:
            expired = payout.expire_unclaimed(session, db.utcnow())
            session.commit()
        return expired

    @periodic(crontab(minute="*"))
    def catch_up() -> list[str]:
        """Queue each sparse job whose latest slot passed without a run (the worker was down
        then); also run once when the worker starts."""
        now = db.utcnow()
        queued = []
        with app.app_context(), app.extensions["tipline.sessionmaker"]() as session:
            for name, (schedule, task) in catchable.items():
                if scheduling.missed(session, name, schedule, now):
                    log.warning("catching up %s: its last scheduled run was missed", name)
                    task()
                    queued.append(name)
        return queued

    @huey.task(retries=3, retry_delay=60)
    def mail_access_alert(event_id: int) -> int:
        """E-mail the supervisors an administrator's access change (no tip content)."""
        from tipline.audit.models import AuditEvent

        with app.app_context(), app.extensions["tipline.sessionmaker"]() as session:
            found = session.get(AuditEvent, event_id)
            addresses = list(current_app.config["SUPERVISOR_EMAILS"] or [])
            if found is None or not addresses:
                return 0
            details = found.details or {}
            link = f"{current_app.config['STAFF_BASE_URL'].rstrip('/')}/staff/oversight"
            subject = "Tipline: an administrator changed someone's access"
            body = (
                f"{found.actor_label} {details.get('what')} for {details.get('username')} "
                f"({details.get('role')}) at {found.occurred_at:%Y-%m-%d %H:%M} UTC.\n\n"
                "Check that it was asked for. The oversight page lists every such change:\n"
                f"{link}\n"
            )
            settings = MailSettings.from_config(current_app.config)
            for address in addresses:
                send_mail(settings, address, subject, body)
            return len(addresses)

    jobs = Jobs(
        huey=huey,
        deliver_outbox=deliver_outbox,
        catch_up=catch_up,
        follower_mail=FollowerMail(
            app.config["STAFF_BASE_URL"],
            mail_domain(app.config),
            lambda: _kick(deliver_outbox, "the follower notification"),
        ),
        mail_access_alert=mail_access_alert,
        escalation_sweep=escalation_sweep,
        stale_claims=stale_claims,
        tip_retention=tip_retention,
        notice_details_retention=notice_details_retention,
        audit_checkpoint=audit_checkpoint,
        housekeeping=housekeeping,
        reward_expiry=reward_expiry,
    )
    app.extensions["tipline.jobs"] = jobs


#: Periodic tasks go before e-mail in the queue (higher runs first).
PERIODIC_PRIORITY = 10


def mail_domain(config: Any) -> str:
    """The domain of Message-IDs: MAIL_FROM's."""
    return str(config["MAIL_FROM"]).rpartition("@")[2] or "localhost"


def _kick(task: TaskWrapper, what: str) -> None:
    """Queue ``task`` now; a queue that is down only delays delivery to the next minute's
    run (the outbox holds the e-mails), so the error is logged and nothing fails."""
    try:
        task()
    except Exception:
        log.exception("could not queue the delivery of %s (the outbox keeps it)", what)


#: Rows one housekeeping transaction touches at most (SQLite holds its write lock meanwhile).
HOUSEKEEPING_BATCH = 2000


def sign_tree_head_if_grown(app: Flask) -> int:
    """Sign and publish a new head of the audit log's Merkle tree if it grew; its size."""
    from tipline.audit import heads
    from tipline.audit.checkpoints import load_signing_key

    with app.app_context(), app.extensions["tipline.write_sessionmaker"]() as session:
        config = current_app.config
        head = heads.sign_tree_head(
            session,
            load_signing_key(config["AUDIT_SIGNING_KEY_FILE"]),
            heads.log_origin(config),
            only_if_grown=True,
        )
        session.commit()
        return head.tree_size


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
