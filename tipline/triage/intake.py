"""What happens to every new tip, however it arrives (public form, call-taker, receipt path):
a priority and a due time at flush, and e-mails to the notice's followers (if it has any)
written into the outbox in the tip's own transaction, delivery asked for after commit.

These are session events on the app's sessionmaker rather than calls inside ``submit_tip``, so
no path that creates a tip can forget them, and a notification exists exactly when its tip is
on disk. A queue that is down never fails or slows the submission: the error is logged and
the outbox keeps the e-mail for the worker's next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from tipline.db import utcnow
from tipline.outbox import OutboxMessage, new_message_id
from tipline.tips.models import Tip, TipPriority
from tipline.triage import follows
from tipline.triage.models import NoticeFollow

log = logging.getLogger(__name__)

#: Minutes from receipt to due, per priority. "They are there right now" is urgent: minutes.
DEFAULT_DUE_MINUTES: dict[str, int] = {
    "urgent": 15,
    "high": 4 * 60,
    "normal": 3 * 24 * 60,
    "low": 14 * 24 * 60,
}

_PENDING = "triage.received_tip_ids"


def due_time(
    priority: TipPriority, received_at: datetime, due_minutes: Mapping[str, int] | None = None
) -> datetime:
    """When a tip of ``priority`` received at ``received_at`` must have been acted on."""
    minutes = {**DEFAULT_DUE_MINUTES, **(due_minutes or {})}[priority.value]
    return received_at + timedelta(minutes=int(minutes))


def initial_priority(tip: Tip) -> TipPriority:
    return TipPriority.URGENT if tip.there_now else (tip.priority or TipPriority.NORMAL)


def _followed(session: Session, tip: Tip) -> bool:
    """Whether anyone follows the tip's notice: a task that would mail no one is not queued
    (on the default SQLite queue, each one is a second committed write per tip). Someone who
    follows the notice after this tip arrived is not told about it, as intended."""
    found = session.execute(
        select(NoticeFollow.id).where(NoticeFollow.notice_id == tip.notice_id).limit(1)
    )
    return found.first() is not None


@dataclass(frozen=True)
class FollowerMail:
    """How followers' e-mails are written: links under ``base_url``, Message-IDs in
    ``domain``, and ``deliver()`` called after a commit that wrote any."""

    base_url: str
    domain: str
    deliver: Callable[[], Any]


def install(
    maker: sessionmaker[Session],
    due_minutes: Mapping[str, int],
    notify: FollowerMail | None,
) -> None:
    """Attach the intake events to ``maker``: priority and due time, then, for each new tip
    on a followed notice, its followers' e-mails in the outbox (same transaction)."""

    @event.listens_for(maker, "before_flush")
    def _prioritise(session: Session, _ctx: Any, _instances: Any) -> None:
        for obj in session.new:
            if isinstance(obj, Tip) and obj.due_at is None:
                if obj.received_at is None:
                    obj.received_at = utcnow()
                obj.priority = initial_priority(obj)
                obj.priority_rank = obj.priority.rank
                obj.due_at = due_time(obj.priority, obj.received_at, due_minutes)

    if notify is None:
        return

    @event.listens_for(maker, "after_flush")
    def _write_mail(session: Session, _ctx: Any) -> None:
        # session.new still lists what this flush inserted. The e-mails go into the outbox
        # in this same transaction: they exist exactly when the tip does.
        for obj in session.new:
            if isinstance(obj, Tip) and obj.notice_id is not None and _followed(session, obj):
                mails = follows.notifications_for_tip(session, obj.id, notify.base_url)
                now = utcnow()
                for mail in mails:
                    session.connection().execute(
                        insert(OutboxMessage).values(
                            kind="follower",
                            recipient=mail.to,
                            subject=mail.subject,
                            body=mail.body,
                            message_id=new_message_id(notify.domain),
                            created_at=now,
                            next_attempt_at=now,
                            attempts=0,
                        )
                    )
                if mails:
                    session.info.setdefault(_PENDING, []).append(obj.public_ref)

    @event.listens_for(maker, "after_commit")
    def _notify(session: Session) -> None:
        if session.info.pop(_PENDING, None):
            notify.deliver()  # logs and carries on if the queue is down: the outbox has them

    @event.listens_for(maker, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)
