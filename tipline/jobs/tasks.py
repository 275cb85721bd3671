"""The background tasks: periodic sweeps, purges and checkpoints, ahead of e-mail in the queue,
and the delivery of the durable outbox. Each is a module-level function, declared on the task
table (``queue.py``) and run inside its app's context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from huey import crontab
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tipline import audit, db, outbox
from tipline import schedule as scheduling
from tipline.triage import escalation

from .mail import MailSettings, mail_domain, send_mail
from .queue import jobs_for, kick, periodic_task, task, write_session

log = logging.getLogger(__name__)

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


def _send(message: outbox.Outgoing) -> None:
    settings = MailSettings.from_config(current_app.config)
    send_mail(settings, message.recipient, message.subject, message.body, message.message_id)


@periodic_task(crontab(minute="*"), priority=None)
def deliver_outbox() -> dict[str, int]:
    """Send the outbox's due e-mails for up to OUTBOX_RUN_SECONDS; if some are left, queue
    another run behind whatever periodic work came in meanwhile (it has no priority: the
    periodic tasks go before it)."""
    seconds = float(current_app.config["OUTBOX_RUN_SECONDS"])
    counts = outbox.deliver_due(write_session, _send, seconds=seconds)
    if counts["left"] and counts["sent"]:
        kick(deliver_outbox, "the next outbox run")
    return counts


@periodic_task(crontab(minute="*"))
def escalation_sweep() -> list[int]:
    """Escalate overdue tips; the supervisors' e-mails go into the outbox in the same
    transaction, and are sent once it has committed."""
    from tipline.triage.models import Escalation

    with write_session() as session:
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
        kick(deliver_outbox, "the escalation e-mails")
    return created


@periodic_task(crontab(minute="*"))
def stale_claims() -> list[str]:
    """Put claims nobody worked for STALE_CLAIM_MINUTES back in the queue."""
    with write_session() as session:
        minutes = int(current_app.config["STALE_CLAIM_MINUTES"])
        returned = escalation.return_stale_claims(session, db.utcnow(), minutes)
        session.commit()
    return returned


@periodic_task(crontab(minute="17", hour="3"), catch_up=True)
def tip_retention() -> list[str]:
    """Empty tips closed longer ago than TIP_RETENTION_DAYS (tombstones stay)."""
    from tipline.triage import retention

    with write_session() as session:
        days = int(current_app.config["TIP_RETENTION_DAYS"])
        purged = retention.purge_expired_tips(session, db.utcnow(), days)
        session.commit()
    return purged


@periodic_task(crontab(minute="27", hour="3"), catch_up=True)
def notice_details_retention() -> list[str]:
    """Remove photos and personal details of notices resolved long enough ago."""
    from tipline.notices import workflow

    with write_session() as session:
        days = int(current_app.config["NOTICE_DETAILS_RETENTION_DAYS"])
        done = workflow.remove_expired_details(session, db.utcnow(), retention_days=days)
        session.commit()
        return [notice.slug for notice in done]


@periodic_task(crontab(minute="*/5"), catch_up=True)
def audit_checkpoint() -> int:
    """Sign the audit chain head into the checkpoint file; returns its sequence number."""
    from tipline.audit.checkpoints import write_checkpoint

    with current_app.extensions["tipline.sessionmaker"]() as session:
        config = current_app.config
        made = write_checkpoint(
            session, config["AUDIT_SIGNING_KEY_FILE"], config["AUDIT_CHECKPOINT_FILE"]
        )
    sign_tree_head_if_grown(current_app._get_current_object())  # type: ignore[attr-defined]
    return made.seq


@periodic_task(crontab(minute="41"), catch_up=True)
def housekeeping() -> dict[str, int]:
    """Remove what has outlived its use: expired receipt sessions, the sealed receipt codes of
    forms past the resubmit window, staff text kept past its time, sign-in throttle rows that
    count nothing, and follows whose address was never confirmed. One audit event gives the
    counts when anything went."""
    from tipline.auth import drafts
    from tipline.auth import services as auth
    from tipline.triage import follows, retention

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
        "login_throttles": lambda s: auth.prune_login_throttle(s, now, rules, HOUSEKEEPING_BATCH),
        "staff_drafts": lambda s: drafts.drop_expired(s, now, HOUSEKEEPING_BATCH),
        "unconfirmed_follows": lambda s: follows.drop_lapsed_follows(s, now, HOUSEKEEPING_BATCH),
    }
    counts = {name: _in_batches(write_session, sweep) for name, sweep in sweeps.items()}
    if any(counts.values()):
        with write_session() as session:
            audit.record(
                session, audit.SYSTEM, "system.housekeeping", "system", "tipline", **counts
            )
            session.commit()
    return counts


@periodic_task(crontab(minute="7"), catch_up=True)
def reward_expiry() -> list[int]:
    """Expire approved rewards nobody collected before their payout code's expiry; each is
    audited with its amount and counted in the ledger as expired."""
    from tipline.rewards import payout

    with write_session() as session:
        expired = payout.expire_unclaimed(session, db.utcnow())
        session.commit()
    return expired


@periodic_task(crontab(minute="*"))
def catch_up() -> list[str]:
    """Queue each sparse job whose latest slot passed without a run (the worker was down
    then); also run once when the worker starts."""
    now = db.utcnow()
    queued = []
    with current_app.extensions["tipline.sessionmaker"]() as session:
        for name, (schedule, queued_task) in jobs_for(current_app).catchable().items():
            if scheduling.missed(session, name, schedule, now):
                log.warning("catching up %s: its last scheduled run was missed", name)
                queued_task()
                queued.append(name)
    return queued


@task(retries=3, retry_delay=60)
def mail_access_alert(event_id: int) -> int:
    """E-mail the supervisors an administrator's access change (no tip content; the alert
    itself is on the oversight page, so this courtesy is not kept in the outbox)."""
    from tipline.audit.models import AuditEvent

    with current_app.extensions["tipline.sessionmaker"]() as session:
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
