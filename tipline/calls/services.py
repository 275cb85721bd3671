"""Logging calls on the tip line: every call gets a disposition, with or without a tip."""

from __future__ import annotations

from dataclasses import replace
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

#: Dispositions under which a call records a tip: a dropped call keeps what was typed.
KEEPS_A_TIP = frozenset({Disposition.TIP_TAKEN, Disposition.HUNG_UP})
#: The narrative of a dropped call's tip when the call-taker had typed only other fields.
DROPPED_BEFORE_NARRATIVE = "The call dropped before the caller said what they saw."

#: Who may read the call log: a call-taker reads their own entries, a supervisor all.
CALL_LOG_READERS = frozenset({Role.CALL_TAKER, Role.SUPERVISOR})


TYPED_BUT_NOT_KEPT = (
    "You typed part of a tip. Choose “Tip taken” or “Caller hung up or the line dropped” to "
    "keep it as a tip, or clear the tip's fields if it is not one."
)


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
    if disposition is Disposition.TIP_TAKEN and tip is None:
        raise ValueError("A “Tip taken” call needs the tip.")
    if tip is not None and disposition not in KEEPS_A_TIP:
        raise ValueError("Only a “Tip taken” or a dropped call records a tip.")
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

    A call that dropped ("hung up") after the call-taker typed some of the tip keeps those
    words as a tip marked ``call_dropped``: they are never discarded. Other dispositions
    refuse a report with words in it (the form asks the call-taker to choose).

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
    elif report is not None and report.has_words():
        if disposition is not Disposition.HUNG_UP:
            raise ValueError(TYPED_BUT_NOT_KEPT)
        if not tips.clean_text(report.narrative):
            report = replace(report, narrative=DROPPED_BEFORE_NARRATIVE)
        tip, code = tips.submit_tip(
            session, report, receipt_key, notice=notice, operator=operator, **submit_options
        )
        tip.call_dropped = True
        session.flush()
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
