"""Following a notice: a detective is e-mailed a link (never tip content) when a tip arrives.

The address must be confirmed first. Following (or changing the address) mails one link to
the address, through the outbox, and nothing else goes there until the follow's owner opens
it while signed in and confirms: a mistyped or someone else's address gets that one e-mail
and no follower mail. The link's token is 256 random bits, kept only as a SHA-256, works
once, and lapses after ``CONFIRM_FOR``; an unconfirmed follow is then deleted by the
housekeeping job. A detective may have ``LINKS_PER_DAY`` links mailed in a day, so the form
cannot be used to flood an address. The e-mail names neither the notice nor the detective.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tipline import audit, outbox
from tipline.audit.models import AuditEvent
from tipline.auth.models import StaffUser
from tipline.db import rows_changed, utcnow
from tipline.notices.models import Notice
from tipline.tips.models import Tip
from tipline.triage.access import require_reader, visible_notice
from tipline.triage.models import NoticeFollow

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")
#: How long a confirmation link works (and an unconfirmed follow is kept).
CONFIRM_FOR = timedelta(hours=24)
#: Confirmation e-mails one staff member may have sent in 24 hours.
LINKS_PER_DAY = 5
LINK_SENT = "notice.follow_link_sent"
CONFIRM_PATH = "/staff/follows/confirm"
#: A follow whose address was confirmed: the only kind follower mail goes to.
CONFIRMED = NoticeFollow.confirmed_at.is_not(None)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class LinkMail:
    """Where confirmation links point (``STAFF_BASE_URL``) and the Message-ID domain."""

    base_url: str
    domain: str


class FollowLinkInvalid(ValueError):
    """The confirmation link is unknown, used, replaced, expired or someone else's."""


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def follow_notice(
    session: Session,
    detective: StaffUser,
    notice: Notice,
    email: str,
    mail: LinkMail,
    now: datetime | None = None,
) -> str | None:
    """Start (or change the address of) ``detective``'s follow of ``notice``, unconfirmed,
    and write the confirmation e-mail into the outbox. Returns the link's token, or None when
    no e-mail was needed (the address is confirmed already, or a link to it is still out).
    ValueError with a sentence for a bad address or too many links today."""
    require_reader(detective)
    now = now or utcnow()
    email = email.strip()
    if not _EMAIL.match(email):
        raise ValueError("Enter an e-mail address such as name@example.org.")
    follow = follow_of(session, detective, notice)
    if follow is not None and follow.email == email:
        pending = follow.confirm_expires_at is not None and follow.confirm_expires_at > now
        if follow.confirmed_at is not None or (pending and follow.confirm_token_hash):
            return None
    since = now - timedelta(hours=24)
    sent = session.scalar(
        select(func.count()).where(
            AuditEvent.action == LINK_SENT,
            AuditEvent.actor_id == detective.id,
            AuditEvent.occurred_at >= since,
        )
    )
    if (sent or 0) >= LINKS_PER_DAY:
        raise ValueError(
            f"{LINKS_PER_DAY} confirmation e-mails were sent for you in the last 24 hours. "
            "Use one of those links, or try again tomorrow."
        )
    token = secrets.token_urlsafe(32)
    if follow is None:
        follow = NoticeFollow(staff_id=detective.id, notice_id=notice.id, email=email)
        session.add(follow)
    follow.email = email
    follow.confirmed_at = None
    follow.confirm_token_hash = _token_hash(token)
    follow.confirm_expires_at = now + CONFIRM_FOR
    session.flush()
    outbox.add(session, "follow-confirm", email, *_link_mail(mail, token, now), mail.domain)
    audit.record(
        session, detective, "notice.followed", "notice", notice.slug, domain=_domain(email)
    )
    audit.record(session, detective, LINK_SENT, "notice", notice.slug, domain=_domain(email))
    return token


def _link_mail(mail: LinkMail, token: str, now: datetime) -> tuple[str, str]:
    link = f"{mail.base_url.rstrip('/')}{CONFIRM_PATH}?token={token}"
    until = now + CONFIRM_FOR
    body = (
        "A staff member of the tip line asked for e-mails about new tips on a notice to be "
        "sent to this address.\n\n"
        "If that was you, open this link and confirm, signed in as yourself "
        f"(it works once, until {until:%Y-%m-%d %H:%M} UTC):\n{link}\n\n"
        "If it was not you, ignore this e-mail: nothing more is sent here unless the link is "
        "used.\n"
    )
    return "Tipline: confirm this address for tip alerts", body


def pending_follow(
    session: Session, detective: StaffUser, token: str, now: datetime | None = None
) -> NoticeFollow:
    """The unconfirmed follow ``token`` confirms, if it is ``detective``'s and still good;
    FollowLinkInvalid otherwise (one answer for unknown, used and someone else's)."""
    require_reader(detective)
    now = now or utcnow()
    follow = (
        session.scalar(
            select(NoticeFollow).where(NoticeFollow.confirm_token_hash == _token_hash(token))
        )
        if token
        else None
    )
    if (
        follow is None
        or follow.staff_id != detective.id
        or follow.confirmed_at is not None
        or visible_notice(session, detective, notice_id=follow.notice_id) is None
    ):
        raise FollowLinkInvalid(
            "This confirmation link does not work: it was used already, a newer one replaced "
            "it, or it belongs to someone else. Follow the notice again for a new one."
        )
    if follow.confirm_expires_at is None or follow.confirm_expires_at <= now:
        raise FollowLinkInvalid(
            "This confirmation link has expired. Follow the notice again for a new one."
        )
    return follow


def confirm_follow(
    session: Session, detective: StaffUser, token: str, now: datetime | None = None
) -> NoticeFollow:
    """Confirm the follow ``token`` names (once): follower e-mail goes to its address from
    now on. FollowLinkInvalid as ``pending_follow``."""
    now = now or utcnow()
    follow = pending_follow(session, detective, token, now)
    follow.confirmed_at = now
    follow.confirm_token_hash = None
    follow.confirm_expires_at = None
    session.flush()
    audit.record(
        session,
        detective,
        "notice.follow_confirmed",
        "notice",
        follow.notice.slug,
        domain=_domain(follow.email),
    )
    return follow


def drop_lapsed_follows(session: Session, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` follows never confirmed before their link lapsed; returns how
    many went (the housekeeping job audits the count)."""
    lapsed = (NoticeFollow.confirmed_at.is_(None), NoticeFollow.confirm_expires_at <= now)
    batch = select(NoticeFollow.id).where(*lapsed).order_by(NoticeFollow.id).limit(limit)
    return rows_changed(session, delete(NoticeFollow).where(NoticeFollow.id.in_(batch), *lapsed))


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
    """The e-mails to send for a new tip: one per active follower of its notice whose address
    is confirmed.

    They carry a link to the tip and nothing from it: no narrative, place, time or name.
    """
    tip = session.get(Tip, tip_id)
    if tip is None or tip.notice_id is None:
        return []
    rows = session.execute(
        select(NoticeFollow.email)
        .join(StaffUser, StaffUser.id == NoticeFollow.staff_id)
        .where(
            NoticeFollow.notice_id == tip.notice_id,
            CONFIRMED,
            StaffUser.active.is_(True),
        )
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
