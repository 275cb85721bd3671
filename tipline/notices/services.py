"""Notices: reading what the public may see, and the first cut of writing them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.notices.models import Charge, ContactLine, Notice, NoticeStatus, Severity


@dataclass(frozen=True)
class ChargeDraft:
    citation: str
    description: str
    severity: Severity


@dataclass(frozen=True)
class ContactDraft:
    label: str
    phone: str
    note: str = ""


@dataclass(frozen=True)
class NoticeDraft:
    subject_name: str
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    caution: str = ""
    reward_text: str = ""
    charges: list[ChargeDraft] = field(default_factory=list)
    contact_lines: list[ContactDraft] = field(default_factory=list)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "notice"


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(Notice.id).where(Notice.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_notice(session: Session, draft: NoticeDraft, actor: StaffUser | str) -> Notice:
    """Create a draft notice with its charges and contact lines."""
    if not draft.subject_name.strip():
        raise ValueError("A notice needs the name of the person who is wanted.")
    notice = Notice(
        slug=_unique_slug(session, slugify(draft.subject_name)),
        subject_name=draft.subject_name.strip(),
        aliases="\n".join(draft.aliases),
        description=draft.description,
        caution=draft.caution,
        reward_text=draft.reward_text,
        status=NoticeStatus.DRAFT,
        charges=[
            Charge(position=i, citation=c.citation, description=c.description, severity=c.severity)
            for i, c in enumerate(draft.charges)
        ],
        contact_lines=[
            ContactLine(position=i, label=c.label, phone=c.phone, note=c.note)
            for i, c in enumerate(draft.contact_lines)
        ],
    )
    session.add(notice)
    session.flush()
    audit.record(session, actor, "notice.created", "notice", notice.slug)
    return notice


def publish_notice(session: Session, notice: Notice, actor: StaffUser | str) -> None:
    """Make a draft public. (The two-person approval arrives with the PIO workflow.)"""
    if notice.status is not NoticeStatus.DRAFT:
        raise ValueError(f"Only a draft can be published; this notice is {notice.status.value}.")
    notice.status = NoticeStatus.PUBLISHED
    notice.published_at = utcnow()
    session.flush()
    audit.record(session, actor, "notice.published", "notice", notice.slug)


def published_notices(session: Session) -> list[Notice]:
    """Published notices, newest first, for the gallery."""
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.PUBLISHED)
            .options(selectinload(Notice.charges))
            .order_by(Notice.published_at.desc(), Notice.id.desc())
        )
    )


def public_notice(session: Session, slug: str) -> Notice | None:
    """A notice the public may see (published or resolved), or None."""
    return session.scalar(
        select(Notice)
        .where(
            Notice.slug == slug,
            Notice.status.in_([NoticeStatus.PUBLISHED, NoticeStatus.RESOLVED]),
        )
        .options(selectinload(Notice.charges), selectinload(Notice.contact_lines))
    )


def contact_lines_for(session: Session, notice: Notice | None) -> list[ContactLine]:
    """The notice's own contact lines, or the agency's defaults when it has none."""
    if notice is not None and notice.contact_lines:
        return list(notice.contact_lines)
    return list(
        session.scalars(
            select(ContactLine)
            .where(ContactLine.notice_id.is_(None))
            .order_by(ContactLine.position)
        )
    )
