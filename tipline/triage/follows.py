"""Following a notice: a detective is e-mailed a link (never tip content) when a tip arrives."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.notices.models import Notice
from tipline.tips.models import Tip
from tipline.triage.access import require_reader
from tipline.triage.models import NoticeFollow

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def follow_notice(session: Session, detective: StaffUser, notice: Notice, email: str) -> None:
    """Start (or update the address of) ``detective``'s follow of ``notice``."""
    require_reader(detective)
    email = email.strip()
    if not _EMAIL.match(email):
        raise ValueError("Enter an e-mail address such as name@example.org.")
    existing = session.scalar(
        select(NoticeFollow).where(
            NoticeFollow.staff_id == detective.id, NoticeFollow.notice_id == notice.id
        )
    )
    if existing is None:
        session.add(NoticeFollow(staff_id=detective.id, notice_id=notice.id, email=email))
    else:
        existing.email = email
    session.flush()
    audit.record(session, detective, "notice.followed", "notice", notice.slug)


def unfollow_notice(session: Session, detective: StaffUser, notice: Notice) -> None:
    require_reader(detective)
    existing = session.scalar(
        select(NoticeFollow).where(
            NoticeFollow.staff_id == detective.id, NoticeFollow.notice_id == notice.id
        )
    )
    if existing is not None:
        session.delete(existing)
        session.flush()
        audit.record(session, detective, "notice.unfollowed", "notice", notice.slug)


def follow_of(session: Session, detective: StaffUser, notice: Notice) -> NoticeFollow | None:
    return session.scalar(
        select(NoticeFollow).where(
            NoticeFollow.staff_id == detective.id, NoticeFollow.notice_id == notice.id
        )
    )


def notifications_for_tip(session: Session, tip_id: int, base_url: str) -> list[Mail]:
    """The e-mails to send for a new tip: one per active follower of its notice.

    They carry a link to the tip and nothing from it: no narrative, place, time or name.
    """
    tip = session.get(Tip, tip_id)
    if tip is None or tip.notice_id is None:
        return []
    rows = session.execute(
        select(NoticeFollow.email)
        .join(StaffUser, StaffUser.id == NoticeFollow.staff_id)
        .where(NoticeFollow.notice_id == tip.notice_id, StaffUser.active.is_(True))
        .order_by(NoticeFollow.id)
    ).scalars()
    link = f"{base_url.rstrip('/')}/staff/tips/{tip.public_ref}"
    body = (
        "A new tip has arrived on a notice you follow.\n\n"
        f"Open it here (staff sign-in required):\n{link}\n\n"
        "For the tipster's safety this e-mail carries no tip content.\n"
        "To stop these e-mails, unfollow the notice on its staff page.\n"
    )
    return [
        Mail(to=email, subject="Tipline: a new tip on a notice you follow", body=body)
        for email in rows
    ]
