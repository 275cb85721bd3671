"""Tipster messages nobody has read yet. A tipster's answer or later photo is unread until a
detective or supervisor who may see the tip opens the tip page; that reading is recorded on
each message (when, by whom) and audited. The queue's "New messages" view lists tips with
something unread; the escalation sweep brings an unread message past its due time to the
supervisors, once (see escalation.py). A message on a closed tip does not reopen it: it goes
to the supervisors' list below, who decide (see docs/triage.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips.models import OPEN_STATUSES, MessageDirection, Tip, TipMessage
from tipline.triage.access import require_reader, require_supervisor, tip_visibility_clause


def mark_read(
    session: Session, viewer: StaffUser, tip: Tip, now: datetime | None = None
) -> list[int]:
    """Record that ``viewer`` (who may see ``tip``) has read its unread tipster messages;
    returns their ids (none when there were none, and then nothing is written)."""
    require_reader(viewer)
    if tip.unread_since is None:
        return []
    now = now or utcnow()
    ids = list(
        session.scalars(
            update(TipMessage)
            .where(
                TipMessage.tip_id == tip.id,
                TipMessage.direction == MessageDirection.FROM_TIPSTER,
                TipMessage.read_at.is_(None),
            )
            .values(read_at=now, read_by_id=viewer.id)
            .returning(TipMessage.id),
            execution_options={"synchronize_session": False},
        )
    )
    tip.unread_since = None
    tip.unread_due_at = None
    session.flush()
    for message in session.identity_map.values():
        if isinstance(message, TipMessage) and message.id in ids:
            session.expire(message, ["read_at", "read_by_id"])
    audit.record(session, viewer, "tip.messages_read", "tip", tip.public_ref, messages=ids)
    return ids


def closed_with_unread(session: Session, supervisor: StaffUser, limit: int = 100) -> list[Tip]:
    """The supervisors' list: closed tips a tipster wrote to since, oldest message first."""
    require_supervisor(supervisor)
    return list(
        session.scalars(
            select(Tip)
            .where(
                Tip.unread_since.is_not(None),
                Tip.status.not_in(OPEN_STATUSES),
                tip_visibility_clause(supervisor),
            )
            .options(selectinload(Tip.notice))
            .order_by(Tip.unread_due_at, Tip.id)
            .limit(limit)
        )
    )
