"""Retention: after ``TIP_RETENTION_DAYS`` a closed tip's contents are removed in
place. Nothing is deleted from ``tip`` (the ORM guards and database triggers refuse it): the
row stays as a tombstone with its id, reference, dates, priority and outcome, and its audit
trail stays whole, so ``tipline audit verify`` still counts one "tip.received" per tip.

Emptied: the tipster's text and structured details, sealed contact details, the staff's
status reason, notes, the dialog's messages (rows kept, bodies emptied), photos (rows
deleted: they hold nothing but the sealed image), the receipt sessions and the submission's
sealed receipt code. The full-text index follows the tip's columns (SQLite FTS5 triggers on
UPDATE; PostgreSQL's index is an expression over the columns), so purged words are no longer
found. An open tip is never purged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from tipline import audit, db
from tipline.tips import fields
from tipline.tips.models import (
    OPEN_STATUSES,
    ReceiptSession,
    Tip,
    TipAttachment,
    TipMessage,
    TipSubmission,
)
from tipline.triage.models import TipNote

DEFAULT_RETENTION_DAYS = 365
BATCH = 200

#: The tip's own columns that hold what the tipster (or staff) wrote, and their empty value:
#: the declared fields retention empties (tips/fields.py), and the staff's status reason.
EMPTIED = {**fields.emptied_columns(), "status_reason": ""}


def expired_tips(session: Session, now: datetime, retention_days: int) -> list[int]:
    cutoff = now - timedelta(days=retention_days)
    closed_at = func.coalesce(Tip.closed_at, Tip.updated_at)
    return list(
        session.scalars(
            select(Tip.id)
            .where(Tip.purged_at.is_(None), Tip.status.not_in(OPEN_STATUSES), closed_at <= cutoff)
            .order_by(Tip.id)
            .limit(BATCH)
        )
    )


def purge_tip(session: Session, tip: Tip, now: datetime) -> None:
    """Empty one closed tip and write its "tip.purged" event."""
    if tip.status.is_open:
        raise ValueError("An open tip is never purged.")
    if session.get_bind().dialect.name == "postgresql":
        _purge_on_postgresql(session, tip, now)
        return
    counts = {
        "messages": db.rows_changed(
            session, update(TipMessage).where(TipMessage.tip_id == tip.id).values(body="")
        ),
        "photos": db.rows_changed(
            session, delete(TipAttachment).where(TipAttachment.tip_id == tip.id)
        ),
        "notes": db.rows_changed(
            session, update(TipNote).where(TipNote.tip_id == tip.id).values(body="")
        ),
    }
    session.execute(
        update(TipSubmission).where(TipSubmission.tip_id == tip.id).values(sealed_code=None)
    )
    session.execute(delete(ReceiptSession).where(ReceiptSession.tip_id == tip.id))
    for column, empty in EMPTIED.items():
        setattr(tip, column, empty)
    tip.purged_at = now
    session.flush()
    _record_purge(session, tip, counts)


def _purge_on_postgresql(session: Session, tip: Tip, now: datetime) -> None:
    """The same purge through ``tipline_purge_tip_contents`` (revision 0808), which may change
    what the application role may not: submitted columns, message and note bodies, photos."""
    counts = {
        "messages": _count(session, TipMessage, tip.id),
        "photos": _count(session, TipAttachment, tip.id),
        "notes": _count(session, TipNote, tip.id),
    }
    session.flush()
    session.execute(text("SELECT tipline_purge_tip_contents(:id)"), {"id": tip.id})
    session.execute(
        update(TipSubmission).where(TipSubmission.tip_id == tip.id).values(sealed_code=None)
    )
    session.execute(delete(ReceiptSession).where(ReceiptSession.tip_id == tip.id))
    session.expire(tip, list(EMPTIED))
    tip.status_reason = ""
    tip.purged_at = now
    session.flush()
    _record_purge(session, tip, counts)


def _count(session: Session, model: type[TipMessage | TipAttachment | TipNote], tip_id: int) -> int:
    query = select(func.count()).select_from(model).where(model.tip_id == tip_id)
    return session.scalar(query) or 0


def _record_purge(session: Session, tip: Tip, counts: dict[str, int]) -> None:
    audit.record(
        session,
        audit.SYSTEM,
        "tip.purged",
        "tip",
        tip.public_ref,
        status=tip.status.value,
        closed_at=tip.closed_at.isoformat() if tip.closed_at else None,
        **counts,
    )


def purge_expired_tips(
    session: Session, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> list[str]:
    """Purge every tip closed more than ``retention_days`` before ``now`` (at most ``BATCH``
    per call; the daily job catches up). Returns the purged tips' references. Holds the
    writers' lock first, so a tip reopened at that moment is read open and never purged."""
    db.hold_chain_lock(session.connection())
    purged = []
    for tip_id in expired_tips(session, now, retention_days):
        tip = session.get(Tip, tip_id)
        assert tip is not None
        purge_tip(session, tip, now)
        purged.append(tip.public_ref)
    return purged


# Short-lived rows (the hourly sweep). Each call handles at most ``limit`` rows so that, on
# SQLite, the write lock is never held long while tips are coming in.


def drop_expired_receipt_sessions(session: Session, now: datetime, limit: int) -> int:
    """Delete receipt sessions past their end (they already open nothing); returns how many."""
    batch = (
        select(ReceiptSession.id)
        .where(ReceiptSession.expires_at <= now)
        .order_by(ReceiptSession.id)
        .limit(limit)
    )
    return db.rows_changed(session, delete(ReceiptSession).where(ReceiptSession.id.in_(batch)))


def forget_shown_codes(session: Session, shown_before: datetime, limit: int) -> int:
    """Clear the sealed receipt codes of forms sent before ``shown_before`` (the end of the
    window in which a repeated submit may show the code again); returns how many.

    The submission row stays: its token hash still turns a late resubmit of the same form
    into "already received" rather than a second tip.
    """
    held = (TipSubmission.sealed_code.is_not(None), TipSubmission.created_at <= shown_before)
    batch = select(TipSubmission.id).where(*held).order_by(TipSubmission.id).limit(limit)
    return db.rows_changed(
        session, update(TipSubmission).where(TipSubmission.id.in_(batch)).values(sealed_code=None)
    )
