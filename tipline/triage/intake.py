"""What happens to every new tip, however it arrives (public form, call-taker, receipt path):
a priority and a due time at flush, and a notification to the notice's followers (if it has
any) after commit.

These are session events on the app's sessionmaker rather than calls inside ``submit_tip``, so
no path that creates a tip can forget them, and a notification is only ever queued for a tip
that is on disk. A queue that is down never fails or slows the submission: the error is logged
(with the tip's reference, no content) and the tip stays saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tipline.db import utcnow
from tipline.tips.models import Tip, TipPriority
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
    """Urgent when "they are there right now"; low for a tip taken during a flood (ticking the
    box is free for a flooder; the tip is still listed and read in the flood view)."""
    if tip.possible_flood:
        return TipPriority.LOW
    return TipPriority.URGENT if tip.there_now else (tip.priority or TipPriority.NORMAL)


def _followed(session: Session, tip: Tip) -> bool:
    """Whether anyone follows the tip's notice: a task that would mail no one is not queued
    (on the default SQLite queue, each one is a second committed write per tip). Someone who
    follows the notice after this tip arrived is not told about it, as intended."""
    found = session.execute(
        select(NoticeFollow.id).where(NoticeFollow.notice_id == tip.notice_id).limit(1)
    )
    return found.first() is not None


def install(
    maker: sessionmaker[Session],
    due_minutes: Mapping[str, int],
    notify: Callable[[int], Any] | None,
) -> None:
    """Attach the intake events to ``maker``: priority and due time, then ``notify(tip_id)``
    after commit for each new tip on a notice."""

    @event.listens_for(maker, "before_flush")
    def _prioritise(session: Session, _ctx: Any, _instances: Any) -> None:
        for obj in session.new:
            if isinstance(obj, Tip) and obj.due_at is None:
                if obj.received_at is None:
                    obj.received_at = utcnow()
                obj.priority = initial_priority(obj)
                obj.priority_rank = obj.priority.rank
                obj.ever_urgent = obj.ever_urgent or obj.priority is TipPriority.URGENT
                obj.due_at = due_time(obj.priority, obj.received_at, due_minutes)

    if notify is None:
        return

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
