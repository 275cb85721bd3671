"""Clocks that escalate. ``escalate_overdue`` brings tips that breached their due
time to the supervisors, exactly once per breach; ``return_stale_claims`` puts claims nobody
worked back in the queue. Both are called by periodic jobs (tipline/jobs/tasks.py) with the time
passed in, so tests run them with a frozen clock.

A breach is (tip, due time, kind). The unique constraint on those three and an
``INSERT ... ON CONFLICT DO NOTHING`` make a second sweep, or a concurrent one in another
transaction, insert nothing: only the sweep whose row was inserted writes the audit event
and gets the escalation back to e-mail (after its commit, through the queue).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from tipline import audit, db
from tipline.audit.models import AuditEvent
from tipline.auth.models import StaffUser
from tipline.tips.models import OPEN_STATUSES, Tip, TipStatus
from tipline.triage.access import require_supervisor
from tipline.triage.models import Escalation, EscalationKind

DEFAULT_STALE_CLAIM_MINUTES = 8 * 60
#: How many tips one sweep handles at most; the next run (a minute later) takes the rest.
BATCH = 500
#: Audit actions that are not work on a tip: reading it, claiming it, and the system's own.
NOT_WORK = (
    "tip.viewed",
    "tip.claimed",
    "tip.escalated",
    "tip.claim_expired",
    "tip.messages_read",
)


def _worked_since(since: SQLColumnExpression[Any] | datetime) -> ColumnElement[bool]:
    """Someone did something with the tip (a note, a question, a status...) after ``since``."""
    return exists().where(
        AuditEvent.object_type == "tip",
        AuditEvent.object_id == Tip.public_ref,
        AuditEvent.action.not_in(NOT_WORK),
        AuditEvent.occurred_at > since,
    )


def _not_escalated(kind: EscalationKind, due: Any = None) -> ColumnElement[bool]:
    due_column = Tip.due_at if due is None else due
    return ~exists().where(
        Escalation.tip_id == Tip.id, Escalation.due_at == due_column, Escalation.kind == kind
    )


def _insert_once(session: Session, values: dict[str, object]) -> int | None:
    """Insert an escalation unless that breach has one; its id, or None if it existed."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Escalation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tip_id", "due_at", "kind"])
        .returning(Escalation.id)
    )
    return session.scalar(statement)


def escalate_overdue(session: Session, now: datetime) -> list[int]:
    """Escalate every open tip past its due time that is unclaimed, or claimed (before it was
    due) and not worked since, and every tip (open or closed) whose tipster's message is still
    unread past its due time. Returns the ids of the escalations this call created."""
    db.hold_chain_lock(session.connection())  # decide from what is committed (see below)
    unclaimed = select(Tip.id, Tip.due_at, Tip.claimed_by_id, Tip.public_ref).where(
        Tip.status == TipStatus.NEW,
        Tip.claimed_by_id.is_(None),
        Tip.due_at <= now,
        _not_escalated(EscalationKind.UNCLAIMED),
    )
    untouched = select(Tip.id, Tip.due_at, Tip.claimed_by_id, Tip.public_ref).where(
        Tip.status.in_(OPEN_STATUSES),
        Tip.claimed_by_id.is_not(None),
        Tip.due_at <= now,
        Tip.claimed_at <= Tip.due_at,
        ~_worked_since(Tip.claimed_at),
        _not_escalated(EscalationKind.UNTOUCHED),
    )
    # The breach is the unread message's own due time; the partial index ix_tip_unread_due
    # holds only tips with something unread.
    unread = select(
        Tip.id, Tip.unread_due_at.label("due_at"), Tip.claimed_by_id, Tip.public_ref
    ).where(
        Tip.unread_since.is_not(None),
        Tip.unread_due_at <= now,
        _not_escalated(EscalationKind.UNREAD, Tip.unread_due_at),
    )
    created: list[int] = []
    for kind, query, order in (
        (EscalationKind.UNCLAIMED, unclaimed, Tip.due_at),
        (EscalationKind.UNTOUCHED, untouched, Tip.due_at),
        (EscalationKind.UNREAD, unread, Tip.unread_due_at),
    ):
        for row in session.execute(query.order_by(order, Tip.id).limit(BATCH)).all():
            escalation_id = _insert_once(
                session,
                {
                    "tip_id": row.id,
                    "kind": kind,
                    "due_at": row.due_at,
                    "holder_id": row.claimed_by_id,
                    "created_at": now,
                },
            )
            if escalation_id is None:
                continue  # another sweep got there first
            audit.record(
                session,
                audit.SYSTEM,
                "tip.escalated",
                "tip",
                row.public_ref,
                kind=kind.value,
                due_at=row.due_at.isoformat(),
                escalation_id=escalation_id,
                holder_id=row.claimed_by_id,
            )
            created.append(escalation_id)
    session.flush()
    return created


def return_stale_claims(
    session: Session, now: datetime, stale_minutes: int = DEFAULT_STALE_CLAIM_MINUTES
) -> list[str]:
    """Release every claim nobody worked for ``stale_minutes``; returns the tips' references.

    The release only applies if the claim is still the one that was found stale (same holder,
    same claim time), so a detective who acts at the same moment keeps the tip.

    The periodic jobs decide from what they read, so they take the writers' lock before
    reading: an action committing meanwhile is either seen (a claim worked just now is not
    stale) or waits for the job. Otherwise, on PostgreSQL, a status change committed between
    the read and the release would be undone.
    """
    db.hold_chain_lock(session.connection())
    cutoff = now - timedelta(minutes=stale_minutes)
    stale = session.execute(
        select(Tip.id, Tip.public_ref, Tip.claimed_by_id, Tip.claimed_at, Tip.status)
        .where(
            Tip.status.in_(OPEN_STATUSES),
            Tip.claimed_by_id.is_not(None),
            Tip.claimed_at <= cutoff,
            ~_worked_since(cutoff),
        )
        .order_by(Tip.claimed_at, Tip.id)
        .limit(BATCH)
    ).all()
    returned = []
    for row in stale:
        new_status = TipStatus.NEW if row.status is TipStatus.IN_REVIEW else row.status
        done = session.scalar(
            update(Tip)
            .where(
                Tip.id == row.id,
                Tip.claimed_by_id == row.claimed_by_id,
                Tip.claimed_at == row.claimed_at,
            )
            .values(claimed_by_id=None, claimed_at=None, status=new_status, updated_at=now)
            .returning(Tip.id),
            execution_options={"synchronize_session": False},
        )
        if done is None:
            continue
        audit.record(
            session,
            audit.SYSTEM,
            "tip.claim_expired",
            "tip",
            row.public_ref,
            from_id=row.claimed_by_id,
            claimed_at=row.claimed_at.isoformat(),
            stale_minutes=stale_minutes,
        )
        returned.append(row.public_ref)
    session.expire_all()  # the ORM's copies of the released tips are out of date
    return returned


def open_escalations(session: Session, supervisor: StaffUser, limit: int = 100) -> list[Escalation]:
    """Escalations no supervisor has acknowledged yet, oldest first."""
    require_supervisor(supervisor)
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.acknowledged_at.is_(None))
            .options(selectinload(Escalation.tip), selectinload(Escalation.holder))
            .order_by(Escalation.created_at, Escalation.id)
            .limit(limit)
        )
    )


def acknowledge(
    session: Session, supervisor: StaffUser, escalation_id: int, now: datetime
) -> Escalation:
    """A supervisor has seen the escalation and takes it from here."""
    require_supervisor(supervisor)
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise ValueError("There is no such escalation.")
    if escalation.acknowledged_at is None:
        escalation.acknowledged_by_id = supervisor.id
        escalation.acknowledged_at = now
        session.flush()
        audit.record(
            session,
            supervisor,
            "tip.escalation_acknowledged",
            "tip",
            escalation.tip.public_ref,
            escalation_id=escalation.id,
        )
    return escalation


def escalation_mail(escalation: Escalation, base_url: str) -> tuple[str, str]:
    """Subject and body of the supervisors' e-mail: links only, never the tip's contents."""
    base = base_url.rstrip("/")
    if escalation.kind is EscalationKind.UNREAD:
        subject = "Tipline: a tipster's message is unread"
        opening = "A tipster's message on a tip has not been read by its due time"
    else:
        subject = "Tipline: a tip is overdue"
        opening = f"A tip is overdue ({escalation.kind.label.lower()})"
    body = (
        f"{opening} and needs a supervisor.\n\n"
        f"Escalations: {base}/staff/oversight\n"
        f"The tip: {base}/staff/tips/{escalation.tip.public_ref}\n\n"
        "Sign in to see it. This e-mail carries no tip content.\n"
    )
    return subject, body


__all__ = [
    "acknowledge",
    "escalate_overdue",
    "escalation_mail",
    "open_escalations",
    "return_stale_claims",
]
