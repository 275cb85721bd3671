"""Server-side staff sessions. The signed cookie carries a random token; the server keeps its
SHA-256 and decides whether it is still good, so signing out, a password change, a disabled
account or a timeout really end it, even for a copy of the cookie."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tipline.auth.models import StaffSession, StaffUser
from tipline.db import rows_changed, utcnow

#: Writing last_seen on every request would turn every page view into a write.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start_session(session: Session, user: StaffUser, enrolling: bool = False) -> str:
    """Open a new session for ``user``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            token_hash=_hash(token),
            user_id=user.id,
            enrolling=enrolling,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def resolve_session(
    session: Session, token: str | None, timeouts: Timeouts, now: datetime | None = None
) -> StaffSession | None:
    """The live session for ``token``, or None. A session past a timeout, or of a disabled
    account, is ended here. Refreshes last_seen (at most once a minute)."""
    if not token or not isinstance(token, str):
        return None
    found = session.scalar(
        select(StaffSession).where(
            StaffSession.token_hash == _hash(token), StaffSession.ended_at.is_(None)
        )
    )
    if found is None:
        return None
    now = now or utcnow()
    reason = None
    if not found.user.active:
        reason = "disabled"
    elif now - found.created_at > timeouts.absolute:
        reason = "absolute_timeout"
    elif now - found.last_seen_at > timeouts.idle:
        reason = "idle_timeout"
    if reason:
        found.ended_at, found.ended_reason = now, reason
        session.flush()
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
        session.flush()
    return found


def end_session(session: Session, staff_session: StaffSession, reason: str) -> None:
    if staff_session.ended_at is None:
        staff_session.ended_at = utcnow()
        staff_session.ended_reason = reason
        session.flush()


def end_all_sessions(session: Session, user: StaffUser, reason: str) -> int:
    """End every open session of ``user`` (password change, disable, second factor reset)."""
    changed = rows_changed(
        session,
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
        .execution_options(synchronize_session="fetch"),
    )
    return changed
