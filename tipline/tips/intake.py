"""What every new tip gets at its first flush, however it arrives (public form, call-taker,
receipt path): a priority ("they are there right now" is urgent) and a due time; and what
every later message from the tipster does: it marks the tip unread, with its own due time.

A session event on the app's sessionmakers (installed from ``tipline.hooks``) rather than a
call inside ``submit_tip``, so no path that creates a tip can forget it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


#: Session info: the due minutes ``install`` was given (``prioritise`` reads them).
DUE_MINUTES = "tips.due_minutes"
#: Session info: what to call for each tip ``tips.services.submit_tip`` writes without the
#: unit of work (``on_received``), after the tip's row is written, in its transaction.
ON_RECEIVED = "tips.on_received"


def prioritise(session: Session, tip: Tip) -> None:
    """Give a new tip its receipt time, priority and due time (once)."""
    if tip.due_at is not None:
        return
    if tip.received_at is None:
        tip.received_at = utcnow()
    tip.priority = initial_priority(tip)
    tip.priority_rank = tip.priority.rank
    tip.ever_urgent = tip.ever_urgent or tip.priority is TipPriority.URGENT
    tip.due_at = due_time(tip.priority, tip.received_at, session.info.get(DUE_MINUTES))


def on_received(maker: sessionmaker[Session], hook: Callable[[Session, Tip], None]) -> None:
    """Call ``hook(session, tip)`` for every new tip written through ``maker``'s sessions,
    inside the tip's transaction (``received``): after its flush for a tip added to the
    session (the event ``install`` puts on ``maker``), after its INSERT for one
    ``submit_tip`` writes directly."""
    hooks = (maker.kw.get("info") or {}).get(ON_RECEIVED, ())
    maker.configure(info={**(maker.kw.get("info") or {}), ON_RECEIVED: [*hooks, hook]})


def received(session: Session, tip: Tip) -> None:
    """Run the ``on_received`` hooks for a new tip."""
    for hook in session.info.get(ON_RECEIVED, ()):
        hook(session, tip)


def install(maker: sessionmaker[Session], due_minutes: Mapping[str, int]) -> None:
    """Give every new tip flushed through ``maker`` its priority and due time and run its
    ``on_received`` hooks, and mark a tip unread when its tipster writes again."""
    maker.configure(info={**(maker.kw.get("info") or {}), DUE_MINUTES: dict(due_minutes)})

    @event.listens_for(maker, "before_flush")
    def _prioritise(session: Session, _ctx: Any, _instances: Any) -> None:
        for obj in session.new:
            if isinstance(obj, Tip):
                prioritise(session, obj)
        for obj in list(session.new):
            if isinstance(obj, TipMessage) and obj.direction is MessageDirection.FROM_TIPSTER:
                mark_unread(session.get(Tip, obj.tip_id), obj, due_minutes)

    @event.listens_for(maker, "after_flush")
    def _received(session: Session, _ctx: Any) -> None:
        # session.new still lists what this flush inserted.
        for obj in list(session.new):
            if isinstance(obj, Tip):
                received(session, obj)
