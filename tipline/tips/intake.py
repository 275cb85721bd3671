"""What every new tip gets at its first flush, however it arrives (public form, call-taker,
receipt path): a priority ("they are there right now" is urgent) and a due time.

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
from tipline.tips.models import Tip, TipPriority

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


def install(maker: sessionmaker[Session], due_minutes: Mapping[str, int]) -> None:
    """Give every new tip flushed through ``maker`` its priority and due time."""

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
