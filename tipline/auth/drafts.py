"""Text kept across the end of a staff session. A POST that arrives after the session ended
is not lost: its text fields are sealed and kept for the same account for a short while, and
given back once, after that account signs in again.

The account is known from the ended session: the one the browser's cookie still names, or,
when the cookie is gone or names another session (signed out, or signed in again, in another
tab), the one named by the signed ticket the form itself carries (web/draft_tickets.py).
Text is kept after a timeout, a sign-out or a sign-in elsewhere; never after a password change
or reset, a lockout or a disabled account (those end sessions because someone else may hold
them), nor for a form that names no session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from tipline import sealing
from tipline.auth.models import StaffDraft, StaffSession, StaffUser
from tipline.auth.sessions import session_by_token

#: How long kept text waits for its owner to sign in again.
KEEP_FOR = timedelta(minutes=30)
#: Session endings after which text is kept: the clock ran out, the person did not choose it.
TIMEOUTS = frozenset({"idle_timeout", "absolute_timeout"})
#: Session endings after which a form from one of its pages still has its text kept: the clock
#: ran out, or the person signed out or signed in again (a form left open in another tab).
KEPT_AFTER = TIMEOUTS | {"logout", "replaced"}
#: The form field carrying the ticket that names the session a page was drawn for.
TICKET_FIELD = "draft_ticket"
#: Fields never kept: tokens and secrets.
NEVER_KEPT = (
    "csrf_token",
    "form_token",
    TICKET_FIELD,
    "password",
    "code",
    "new_password",
    "confirm",
)


@dataclass(frozen=True)
class Draft:
    """The kept text: which form it was (endpoint), where to show it again, its fields."""

    endpoint: str
    return_to: str
    fields: dict[str, str]


def _context(draft_id: int, user_id: int) -> str:
    return f"staff-draft:{draft_id}:{user_id}"


def keepable(form: dict[str, str]) -> dict[str, str]:
    """The text fields worth keeping: not tokens or secrets, not empty."""
    return {
        name: value
        for name, value in form.items()
        if value.strip() and not any(name.endswith(secret) for secret in NEVER_KEPT)
    }


def ended_by_timeout(session: Session, token: str | None) -> StaffSession | None:
    """The session ``token`` belonged to, if it ended because it timed out."""
    found = session_by_token(session, token)
    if found is None or found.ended_reason not in TIMEOUTS:
        return None
    return found


def page_owner(session: Session, staff_session_id: int) -> StaffSession | None:
    """The session a page was drawn for, if text sent from that page may still be kept for
    its account: the session is live, or ended in a way that keeps text (``KEPT_AFTER``),
    and the account is still active."""
    found = session.get(StaffSession, staff_session_id)
    if found is None or not found.user.active:
        return None
    if found.ended_at is not None and found.ended_reason not in KEPT_AFTER:
        return None
    return found


def keep(
    session: Session,
    ended: StaffSession,
    data_key: bytes | str | None,
    draft: Draft,
    now: datetime,
) -> StaffDraft | None:
    """Keep ``draft`` for the owner of the session ``ended`` (None if no text)."""
    if not draft.fields:
        return None
    row = StaffDraft(user_id=ended.user_id, sealed=b"", created_at=now, expires_at=now + KEEP_FOR)
    session.add(row)
    session.flush()
    payload = json.dumps(
        {"endpoint": draft.endpoint, "return_to": draft.return_to, "fields": draft.fields}
    ).encode()
    row.sealed = sealing.seal(data_key, payload, _context(row.id, ended.user_id))
    session.flush()
    return row


def _newest(session: Session, user: StaffUser, now: datetime) -> StaffDraft | None:
    return session.scalar(
        select(StaffDraft)
        .where(StaffDraft.user_id == user.id, StaffDraft.expires_at > now)
        .order_by(StaffDraft.id.desc())
        .limit(1)
    )


def _open(row: StaffDraft, user: StaffUser, data_key: bytes | str | None) -> Draft:
    payload = json.loads(sealing.unseal(data_key, row.sealed, _context(row.id, user.id)))
    return Draft(payload["endpoint"], payload["return_to"], payload["fields"])


def waiting(
    session: Session, user: StaffUser, data_key: bytes | str | None, now: datetime
) -> Draft | None:
    """The newest kept text of ``user`` still in time, left in place."""
    row = _newest(session, user, now)
    return None if row is None else _open(row, user, data_key)


def take(
    session: Session, user: StaffUser, data_key: bytes | str | None, now: datetime
) -> Draft | None:
    """Give back ``user``'s newest kept text once, and forget all of theirs (and anyone's
    expired text). None when there is none in time."""
    row = _newest(session, user, now)
    draft = None if row is None else _open(row, user, data_key)
    session.execute(
        delete(StaffDraft).where(or_(StaffDraft.user_id == user.id, StaffDraft.expires_at <= now))
    )
    session.flush()
    return draft


def drop_expired(session: Session, now: datetime, limit: int) -> int:
    """Forget up to ``limit`` kept texts nobody came back for in time; how many went."""
    ids = list(
        session.scalars(select(StaffDraft.id).where(StaffDraft.expires_at <= now).limit(limit))
    )
    if ids:
        session.execute(delete(StaffDraft).where(StaffDraft.id.in_(ids)))
    return len(ids)
