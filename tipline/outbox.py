"""The durable outbox: every staff e-mail (follower and escalation notices) is a row written
in the same transaction as the event that causes it, and the worker delivers from here.

The task queue only says "look at the outbox now": Redis may lose every task it holds, a
worker may be killed mid-send, and the row is still there for the next delivery run (every
minute, and on worker start). Delivery is at least once and made idempotent where the mail
system allows: each row has a Message-ID fixed when it is written, so a message sent again
after a crash (accepted by the mail server, not yet marked sent) carries the same id, which
mail servers and clients use to drop the duplicate; such a re-delivery is logged.

E-mails carry links only, never tip content (see ``triage.follows`` and
``triage.escalation.escalation_mail``), so nothing here needs encryption.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import Base, rows_changed, utcnow

log = logging.getLogger(__name__)

#: How long one delivery attempt may hold a row before another run may try it again (longer
#: than one SMTP exchange may take: send_mail gives up after 30 s).
CLAIM = timedelta(seconds=90)
#: Waits after the 1st, 2nd, ... failed attempt (the last one repeats).
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


class OutboxMessage(Base):
    """One e-mail to one address, kept until the mail server accepted it (and after)."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "follower", "escalation"
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs for one message."""

    id: int
    recipient: str
    subject: str
    body: str
    message_id: str


def new_message_id(domain: str) -> str:
    return f"<tipline.{secrets.token_hex(12)}@{domain}>"


def add(
    session: Session, kind: str, recipient: str, subject: str, body: str, domain: str
) -> OutboxMessage:
    """Write one e-mail into the outbox, in the caller's transaction (flushed, not committed)."""
    now = utcnow()
    message = OutboxMessage(
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        message_id=new_message_id(domain),
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(message)
    session.flush()
    return message


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Take one due message for this delivery run (a guarded UPDATE: exactly one run wins)."""
    taken = rows_changed(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(attempts=OutboxMessage.attempts + 1, claimed_until=now + CLAIM)
        .execution_options(synchronize_session=False),
    )
    return taken == 1


def deliver_due(
    new_session: Callable[[], Session],
    send: Callable[[Outgoing], None],
    *,
    batch: int = 100,
    seconds: float = 20.0,
) -> dict[str, int]:
    """Send due messages, oldest first, for at most about ``seconds``; returns counts of
    ``sent``, ``failed`` and ``left`` (due messages not tried in this run).

    Each message is claimed and committed before it is sent and marked sent after the mail
    server accepted it, so a crash in between leaves it to be sent again (same Message-ID).
    """
    started = time.monotonic()
    sent = failed = 0
    tried: set[int] = set()
    while time.monotonic() - started < seconds:
        now = utcnow()
        with new_session() as session:
            ids = session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                    or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                    OutboxMessage.id.not_in(tried) if tried else OutboxMessage.id.is_not(None),
                )
                .order_by(OutboxMessage.id)
                .limit(batch)
            ).all()
        if not ids:
            break
        for message_id in ids:
            if time.monotonic() - started >= seconds:
                break
            tried.add(message_id)
            outcome = _deliver_one(new_session, send, message_id)
            sent += outcome == "sent"
            failed += outcome == "failed"
    with new_session() as session:
        left = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
        )
    return {"sent": sent, "failed": failed, "left": int(left or 0)}


def _deliver_one(
    new_session: Callable[[], Session], send: Callable[[Outgoing], None], message_id: int
) -> str:
    with new_session() as session:
        # A claim left behind (expired, never cleared): the run that made it died between
        # claiming and marking, maybe after the mail server had accepted the message.
        abandoned = session.scalar(
            select(OutboxMessage.claimed_until).where(OutboxMessage.id == message_id)
        )
        if not _claim(session, message_id, utcnow()):
            session.rollback()
            return "skipped"  # another run has it, or it was sent meanwhile
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        outgoing = Outgoing(row.id, row.recipient, row.subject, row.body, row.message_id)
        attempt = row.attempts
        session.commit()
    if abandoned is not None:
        # Sent again with the same Message-ID, by which the duplicate can be dropped.
        log.warning(
            "re-delivering outbox message %s (attempt %s, Message-ID %s)",
            message_id,
            attempt,
            outgoing.message_id,
        )
    try:
        send(outgoing)
    except Exception as error:  # any failure: keep the row, try later
        wait = BACKOFF[min(attempt, len(BACKOFF)) - 1]
        reason = _reason(error)
        log.warning(
            "outbox message %s not delivered (%s); next try in %s", message_id, reason, wait
        )
        with new_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(claimed_until=None, last_error=reason, next_attempt_at=utcnow() + wait)
            )
            session.commit()
        return "failed"
    with new_session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(sent_at=utcnow(), claimed_until=None, last_error=None)
        )
        session.commit()
    return "sent"


def _reason(error: BaseException) -> str:
    """The error's class and, for SMTP, its code: no addresses or server text in the row."""
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__} {code}" if code else type(error).__name__


def undelivered(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """Messages not yet accepted by the mail server, oldest first (the staff outbox page)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def retry_now(session: Session, actor: StaffUser, message_id: int) -> None:
    """Make an undelivered message due now (the staff "retry" button), audited; ValueError
    if it was delivered meanwhile or does not exist. Flushed, not committed."""
    done = rows_changed(
        session,
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
        .values(next_attempt_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False),
    )
    if done != 1:
        raise ValueError("That e-mail was delivered meanwhile, or there is no such e-mail.")
    audit.record(session, actor, "outbox.retry", "outbox_message", message_id)
    session.flush()
