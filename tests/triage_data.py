"""Many tips at once for the triage tests: one executemany, no receipt codes to remember."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tipline.db import utcnow
from tipline.tips.models import Tip, TipPriority, TipStatus


def insert_tips(
    session: Session,
    count: int,
    notice_id: int | None = None,
    narrative: str = "Seen near the levee",
    **values: object,
) -> None:
    """Insert ``count`` new, normal-priority tips, each due one second after the previous."""
    now = utcnow()
    rows = [
        {
            "public_ref": os.urandom(12).hex(),
            "receipt_hash": os.urandom(32),
            "notice_id": notice_id,
            "seen_when": "",
            "seen_where": "",
            "narrative": f"{narrative} #{i}",
            "there_now": False,
            "status": TipStatus.NEW,
            "received_at": now,
            "updated_at": now,
            "priority": TipPriority.NORMAL,
            "priority_rank": TipPriority.NORMAL.rank,
            "due_at": now + timedelta(seconds=i),
            "status_reason": "",
            **values,
        }
        for i in range(count)
    ]
    session.execute(insert(Tip), rows)
    session.commit()
