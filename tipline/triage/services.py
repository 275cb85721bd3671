"""The detectives' queue: who may read tips, what the queue shows, and audited viewing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import TIP_READERS, StaffUser
from tipline.auth.policy import tip_visibility_clause
from tipline.tips.models import Tip, TipStatus

__all__ = ["TIP_READERS", "NotAllowed", "open_queue", "view_tip"]


class NotAllowed(PermissionError):
    """The staff member's role may not read tips."""


def _require_reader(viewer: StaffUser) -> None:
    if viewer.role not in TIP_READERS or not viewer.active:
        raise NotAllowed(f"{viewer.role.value} may not read tips")


def open_queue(session: Session, viewer: StaffUser, limit: int = 200) -> list[Tip]:
    """Tips not yet closed: "they are there right now" first, then newest first."""
    _require_reader(viewer)
    return list(
        session.scalars(
            select(Tip)
            .where(Tip.status != TipStatus.CLOSED, tip_visibility_clause(viewer))
            .options(selectinload(Tip.notice))
            .order_by(Tip.there_now.desc(), Tip.received_at.desc(), Tip.id.desc())
            .limit(limit)
        )
    )


def view_tip(session: Session, viewer: StaffUser, public_ref: str) -> Tip | None:
    """Open one tip for reading, recording that ``viewer`` saw it."""
    _require_reader(viewer)
    tip = session.scalar(
        select(Tip)
        .where(Tip.public_ref == public_ref, tip_visibility_clause(viewer))
        .options(selectinload(Tip.notice))
    )
    if tip is not None:
        audit.record(session, viewer, "tip.viewed", "tip", tip.public_ref)
    return tip
