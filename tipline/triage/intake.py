"""After a new tip on a followed notice, its followers are told: their e-mails (a link, no
content) are written into the outbox in the tip's own transaction, and delivery is asked for
after commit. Priority and due time are the tips domain's (``tipline.tips.intake``,
re-exported here for the triage services).

A session event on the app's sessionmakers (installed from ``tipline.hooks``), so no path
that creates a tip can forget it, and a notification exists exactly when its tip is on disk.
A queue that is down never fails or slows the submission: the error is logged and the outbox
keeps the e-mail for the worker's next run.

The event runs inside the tip's flush, under the audit chain's lock, so "does anyone follow
this notice" is best asked before: the public form reads it with the notice
(``open_for_tips``, remembered between changes) and hands the answer over
(``followers_known``); the event asks the database only when nobody did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, event, exists, insert, select
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from tipline.db import utcnow
from tipline.notices import change_stamps
from tipline.notices.models import Notice, NoticeStatus, is_slug
from tipline.outbox import OutboxMessage, new_message_id
from tipline.tips import intake as tip_intake
from tipline.tips.intake import DEFAULT_DUE_MINUTES, due_time, initial_priority
from tipline.tips.models import Tip
from tipline.triage import follows
from tipline.triage.models import NoticeFollow

__all__ = [
    "DEFAULT_DUE_MINUTES",
    "FollowerMail",
    "TipTarget",
    "due_time",
    "followers_known",
    "initial_priority",
    "install",
    "open_for_tips",
]

log = logging.getLogger(__name__)

_PENDING = "triage.received_tip_ids"
#: Session info: notice id -> whether anyone followed it when the tip's notice was read.
_FOLLOWED = "triage.notices_followed"


@dataclass(frozen=True)
class TipTarget:
    """A published notice as a tip to it needs it: its id and slug, and whether anyone
    follows it. Plain values, so it can be remembered between requests."""

    id: int
    slug: str
    followed: bool
    status: NoticeStatus = NoticeStatus.PUBLISHED


# Built once: a tip POST runs it outside any transaction, on a plain connection.
_OPEN_FOR_TIPS = select(
    Notice.id,
    Notice.slug,
    exists().where(NoticeFollow.notice_id == Notice.id, follows.CONFIRMED).label("followed"),
).where(Notice.slug == bindparam("slug"), Notice.status == NoticeStatus.PUBLISHED)


def open_for_tips(connection: Connection | Session, slug: str) -> TipTarget | None:
    """The published notice ``slug`` names, with whether anyone follows it at a confirmed
    address; None if there is none. One indexed query, no ORM objects."""
    if not is_slug(slug):
        return None
    row = connection.execute(_OPEN_FOR_TIPS, {"slug": slug}).first()
    return None if row is None else TipTarget(row.id, row.slug, bool(row.followed))


def followers_known(session: Session, target: TipTarget) -> None:
    """Let the tip's flush use what was read with ``target`` instead of asking the database
    again while it holds the audit chain's lock."""
    session.info.setdefault(_FOLLOWED, {})[target.id] = target.followed


def _followed(session: Session, tip: Tip) -> bool:
    """Whether anyone follows the tip's notice at a confirmed address (someone who follows
    the notice after this tip arrived is not told about it, as intended)."""
    known = session.info.get(_FOLLOWED, {}).get(tip.notice_id)
    if known is not None:
        return bool(known)
    found = session.execute(
        select(NoticeFollow.id)
        .where(NoticeFollow.notice_id == tip.notice_id, follows.CONFIRMED)
        .limit(1)
    )
    return found.first() is not None


def announce_follow_changes(session: Session, _ctx: UOWTransaction, _objs: Any) -> None:
    """A follow started or ended changes what ``open_for_tips`` answers: app servers that
    remember it are told to read it again when this transaction commits."""
    if any(isinstance(o, NoticeFollow) for o in (*session.new, *session.dirty, *session.deleted)):
        change_stamps.announce_change(session)


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

    def _write_mail(session: Session, tip: Tip) -> None:
        if tip.notice_id is None or not _followed(session, tip):
            return
        mails = follows.notifications_for_tip(session, tip.id, notify.base_url)
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
            session.info.setdefault(_PENDING, []).append(tip.public_ref)

    tip_intake.on_received(maker, _write_mail)

    @event.listens_for(maker, "after_commit")
    def _notify(session: Session) -> None:
        session.info.pop(_FOLLOWED, None)
        if session.info.pop(_PENDING, None):
            notify.deliver()  # logs and carries on if the queue is down: the outbox has them

    @event.listens_for(maker, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)
        session.info.pop(_FOLLOWED, None)
