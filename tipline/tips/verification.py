"""What ``tipline audit verify`` checks about tips: every tip has exactly one ``tip.received``
event (that stored tips match what their events committed to is
``tipline.triage.verification``). Registered with the audit package from ``tipline.hooks``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline.audit import verify
from tipline.tips.models import Tip


def one_received_event_per_tip(session: Session, report: verify.Report) -> None:
    report.tips = session.scalar(select(func.count()).select_from(Tip)) or 0
    report.received = verify.count_events(session, verify.RECEIVED)
    if report.problem is None and report.tips != report.received:
        report.problem = verify.Finding(
            f"there are {report.tips} tips but {report.received} {verify.RECEIVED} events: "
            "every tip must have exactly one."
        )
