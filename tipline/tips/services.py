"""Receiving tips. The rules for what a tip must carry live here, not in the form."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.notices.models import Notice, NoticeStatus
from tipline.tips import receipts
from tipline.tips.models import Tip, TipStatus


@dataclass(frozen=True)
class TipReport:
    """What a tipster tells us, already parsed from the form."""

    narrative: str
    seen_when: str = ""
    seen_where: str = ""
    there_now: bool = False


class NoticeNotOpen(LookupError):
    """The notice does not exist or is not taking tips."""


def submit_tip(
    session: Session,
    report: TipReport,
    receipt_key: bytes,
    notice: Notice | None = None,
    operator: StaffUser | None = None,
) -> tuple[Tip, str]:
    """Record a tip and return it with its receipt code (the only plain copy of the code).

    The caller must commit before showing the code: acknowledged means persisted.
    """
    if not report.narrative.strip():
        raise ValueError("A tip needs some words about what was seen.")
    if notice is not None and notice.status is not NoticeStatus.PUBLISHED:
        raise NoticeNotOpen(notice.slug)
    code = receipts.new_receipt_code()
    tip = Tip(
        public_ref=receipts.new_public_ref(),
        receipt_hash=receipts.hash_code(receipt_key, code),
        notice=notice,
        narrative=report.narrative.strip(),
        seen_when=report.seen_when.strip(),
        seen_where=report.seen_where.strip(),
        there_now=report.there_now,
        status=TipStatus.NEW,
        operator=operator,
    )
    session.add(tip)
    session.flush()
    audit.record(
        session,
        operator if operator is not None else audit.PUBLIC,
        "tip.received",
        "tip",
        tip.public_ref,
        notice=notice.slug if notice else None,
        there_now=report.there_now,
    )
    return tip, code


def find_by_receipt(session: Session, receipt_key: bytes, typed_code: str) -> Tip | None:
    """The tip a receipt code belongs to, or None for anything else."""
    try:
        digest = receipts.hash_code(receipt_key, typed_code)
    except ValueError:
        return None
    return session.scalar(select(Tip).where(Tip.receipt_hash == digest))
