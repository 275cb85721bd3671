"""After a new tip on a notice commits, its notice's followers are told (a queued e-mail with
a link and no content). Priority and due time are the tips domain's (``tipline.tips.intake``,
re-exported here for the triage services).

A session event on the app's sessionmakers (installed from ``tipline.hooks``), so a
notification is only ever queued for a tip that is on disk. A queue that is down never fails
or slows the submission: the error is logged (with the tip's reference, no content) and the
tip stays saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tipline.tips.intake import DEFAULT_DUE_MINUTES, due_time, initial_priority
from tipline.tips.models import Tip
from tipline.triage.models import NoticeFollow

__all__ = ["DEFAULT_DUE_MINUTES", "due_time", "initial_priority", "install"]

log = logging.getLogger(__name__)

_PENDING = "triage.received_tip_ids"


def _followed(session: Session, tip: Tip) -> bool:
    """Whether anyone follows the tip's notice: a task that would mail no one is not queued
    (on the default SQLite queue, each one is a second committed write per tip). Someone who
    follows the notice after this tip arrived is not told about it, as intended."""
    found = session.execute(
        select(NoticeFollow.id).where(NoticeFollow.notice_id == tip.notice_id).limit(1)
    )
    return found.first() is not None


def install(maker: sessionmaker[Session], notify: Callable[[int], Any]) -> None:
    """Attach to ``maker``: ``notify(tip_id)`` after commit for each new tip on a followed
    notice."""

    @event.listens_for(maker, "after_flush")
    def _remember(session: Session, _ctx: Any) -> None:
        # session.new still lists what this flush inserted.
        for obj in session.new:
            if isinstance(obj, Tip) and obj.notice_id is not None and _followed(session, obj):
                session.info.setdefault(_PENDING, []).append((obj.id, obj.public_ref))

    @event.listens_for(maker, "after_commit")
    def _notify(session: Session) -> None:
        for tip_id, ref in session.info.pop(_PENDING, []):
            try:
                notify(tip_id)
            except Exception:  # the tip is saved; a dead queue must not undo or fail that
                log.exception("could not queue the follower notification for tip %s", ref)

    @event.listens_for(maker, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)
