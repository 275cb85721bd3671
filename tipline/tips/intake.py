"""What every new tip gets at its first flush, however it arrives (public form, call-taker,
receipt path): a priority ("they are there right now" is urgent) and a due time; and what
every later message from the tipster does: it marks the tip unread, with its own due time.

A session event on the app's sessionmakers (installed from ``tipline.hooks``) rather than a
call inside ``submit_tip``, so no path that creates a tip can forget it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from tipline.db import utcnow
from tipline.tips.models import MessageDirection, Tip, TipMessage, TipPriority

#: Minutes from receipt to due, per priority. "They are there right now" is urgent: minutes.
DEFAULT_DUE_MINUTES: dict[str, int] = {
    "urgent": 15,
    "high": 4 * 60,
    "normal": 3 * 24 * 60,
    "low": 14 * 24 * 60,
}


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


def mark_unread(tip: Tip | None, message: TipMessage, due_minutes: Mapping[str, int]) -> None:
    """A tipster's message makes the tip unread until someone who may see it opens it. The
    oldest unread message sets the clock: due by the tip's priority, counted from it, on an
    open tip and a closed one alike (a closed tip's message goes to the supervisors' list)."""
    if tip is None or tip.unread_since is not None:
        return
    if message.created_at is None:
        message.created_at = utcnow()
    tip.unread_since = message.created_at
    tip.unread_due_at = due_time(
        tip.priority or TipPriority.NORMAL, message.created_at, due_minutes
    )


def install(maker: sessionmaker[Session], due_minutes: Mapping[str, int]) -> None:
    """Give every new tip flushed through ``maker`` its priority and due time, and mark a tip
    unread when its tipster writes again."""

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
        for obj in list(session.new):
            if isinstance(obj, TipMessage) and obj.direction is MessageDirection.FROM_TIPSTER:
                mark_unread(session.get(Tip, obj.tip_id), obj, due_minutes)
