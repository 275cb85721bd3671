"""Logging calls on the tip line: every call gets a disposition, with or without a tip."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.audit import NotAllowed
from tipline.auth.models import Role, StaffUser
from tipline.calls.models import CallRecord, Disposition
from tipline.notices.models import Notice
from tipline.tips import services as tips
from tipline.tips.models import Tip

#: Who may read the call log: a call-taker reads their own entries, a supervisor all.
CALL_LOG_READERS = frozenset({Role.CALL_TAKER, Role.SUPERVISOR})


def log_call(
    session: Session,
    operator: StaffUser,
    disposition: Disposition,
    note: str = "",
    tip: Tip | None = None,
) -> CallRecord:
    """Record one call. A "tip taken" call must come with its tip; other calls without one."""
    if operator.role is not Role.CALL_TAKER or not operator.active:
        raise NotAllowed("only call-takers log calls")
    if (disposition is Disposition.TIP_TAKEN) != (tip is not None):
        raise ValueError("A call records a tip exactly when its disposition is “Tip taken”.")
    record = CallRecord(
        operator_id=operator.id, disposition=disposition, note=note.strip(), tip=tip
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        operator,
        "call.logged",
        "call",
        record.id,
        disposition=disposition.value,
        tip=tip.public_ref if tip is not None else None,
    )
    return record


def take_call(
    session: Session,
    operator: StaffUser,
    disposition: Disposition,
    note: str,
    report: tips.TipReport | None,
    receipt_key: bytes,
    *,
    notice: Notice | None = None,
    **submit_options: Any,
) -> tuple[CallRecord, str | None]:
    """Log a call, and for "tip taken" record its tip with the call-taker as operator.

    Returns the call and the receipt code to read back to the caller (None without a tip).
    A repeated submit of the same form raises tips.AlreadyReceived, as on the public form.
    """
    if operator.role is not Role.CALL_TAKER or not operator.active:
        raise NotAllowed("only call-takers log calls")
    tip, code = None, None
    if disposition is Disposition.TIP_TAKEN:
        if report is None:
            raise ValueError("A “Tip taken” call needs the tip.")
        tip, code = tips.submit_tip(
            session, report, receipt_key, notice=notice, operator=operator, **submit_options
        )
    return log_call(session, operator, disposition, note, tip), code


def call_log(session: Session, viewer: StaffUser, limit: int = 200) -> list[CallRecord]:
    """Newest first: a call-taker's own calls, or every call for a supervisor."""
    if viewer.role not in CALL_LOG_READERS or not viewer.active:
        raise NotAllowed(f"{viewer.role.value} may not read the call log")
    query = select(CallRecord).options(
        selectinload(CallRecord.tip), selectinload(CallRecord.operator)
    )
    if viewer.role is Role.CALL_TAKER:
        query = query.where(CallRecord.operator_id == viewer.id)
    return list(
        session.scalars(
            query.order_by(CallRecord.created_at.desc(), CallRecord.id.desc()).limit(limit)
        )
    )
