"""After a new tip on a followed notice, its followers are told: their e-mails (a link, no
content) are written into the outbox in the tip's own transaction, and delivery is asked for
after commit. Priority and due time are the tips domain's (``tipline.tips.intake``,
re-exported here for the triage services).

A session event on the app's sessionmakers (installed from ``tipline.hooks``), so no path
that creates a tip can forget it, and a notification exists exactly when its tip is on disk.
A queue that is down never fails or slows the submission: the error is logged and the outbox
keeps the e-mail for the worker's next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from tipline.db import utcnow
from tipline.outbox import OutboxMessage, new_message_id
from tipline.tips.intake import DEFAULT_DUE_MINUTES, due_time, initial_priority
from tipline.tips.models import Tip
from tipline.triage import follows
from tipline.triage.models import NoticeFollow

__all__ = ["DEFAULT_DUE_MINUTES", "FollowerMail", "due_time", "initial_priority", "install"]

log = logging.getLogger(__name__)

_PENDING = "triage.received_tip_ids"


def _followed(session: Session, tip: Tip) -> bool:
    """Whether anyone follows the tip's notice at a confirmed address (someone who follows
    the notice after this tip arrived is not told about it, as intended)."""
    found = session.execute(
        select(NoticeFollow.id)
        .where(NoticeFollow.notice_id == tip.notice_id, NoticeFollow.confirmed_at.is_not(None))
        .limit(1)
    )
    return found.first() is not None


@dataclass(frozen=True)
class FollowerMail:
    """How followers' e-mails are written: links under ``base_url``, Message-IDs in
    ``domain``, and ``deliver()`` called after a commit that wrote any."""

    base_url: str
    domain: str
    deliver: Callable[[], Any]


def install(maker: sessionmaker[Session], notify: FollowerMail) -> None:
    """Attach to ``maker``: for each new tip on a followed notice, its followers' e-mails in
    the outbox (same transaction), and ``notify.deliver()`` after commit."""

    @event.listens_for(maker, "after_flush")
    def _write_mail(session: Session, _ctx: Any) -> None:
        # session.new still lists what this flush inserted.
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
