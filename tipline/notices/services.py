"""Notices: writing a notice's record, keeping versions, and reading what the public may see.

The life cycle (submit, approve, return, resolve, archive, retention) is in ``workflow.py``;
photos are in ``photos.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import Role, StaffUser
from tipline.db import utcnow
from tipline.notices.models import (
    PUBLIC_STATUSES,
    Charge,
    ContactLine,
    Notice,
    NoticeStatus,
    NoticeVersion,
    Severity,
    is_slug,
)

#: Roles that write notices, and roles that may approve, return, resolve and archive them.
NOTICE_WRITERS = frozenset({Role.PIO})
NOTICE_REVIEWERS = frozenset({Role.PIO, Role.SUPERVISOR})


class NoticeRefused(ValueError):
    """The change is not allowed; the message says why in a sentence fit for the PIO."""


@dataclass(frozen=True)
class ChargeDraft:
    citation: str
    description: str
    severity: Severity
    warrant_date: date | None = None


@dataclass(frozen=True)
class ContactDraft:
    label: str
    phone: str
    note: str = ""


@dataclass(frozen=True)
class NoticeDraft:
    """Everything a PIO types into a notice, already parsed."""

    subject_name: str
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    sex: str = ""
    race: str = ""
    age: int | None = None
    date_of_birth: date | None = None
    height: str = ""
    weight: str = ""
    hair: str = ""
    eyes: str = ""
    scars_marks: str = ""
    last_known_area: str = ""
    caution: str = ""
    reward_text: str = ""
    max_reward: int | None = None
    case_number: str = ""
    charges: list[ChargeDraft] = field(default_factory=list)
    contact_lines: list[ContactDraft] = field(default_factory=list)


#: Notice columns copied straight from a draft.
_TEXT_FIELDS = (
    "description",
    "sex",
    "race",
    "age",
    "date_of_birth",
    "height",
    "weight",
    "hair",
    "eyes",
    "scars_marks",
    "last_known_area",
    "caution",
    "reward_text",
    "max_reward",
    "case_number",
)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "notice"


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalar(select(Notice.id).where(Notice.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def actor_ref(actor: StaffUser | str) -> tuple[int | None, str]:
    """(staff id or None, label) for a staff member or a label such as ``"demo-seed"``."""
    if isinstance(actor, str):
        return None, actor
    return actor.id, actor.username


def require_role(actor: StaffUser | str, roles: frozenset[Role], doing: str) -> None:
    """Staff actors must hold one of ``roles``; labels (the CLI, the seed) are trusted."""
    if isinstance(actor, StaffUser) and (actor.role not in roles or not actor.active):
        raise NoticeRefused(f"Your role ({actor.role.label}) may not {doing}.")


def _check_draft(draft: NoticeDraft) -> None:
    if not draft.subject_name.strip():
        raise NoticeRefused("A notice needs the name of the person who is wanted.")
    if draft.age is not None and not 0 < draft.age < 130:
        raise NoticeRefused("The age must be a number of years between 1 and 129.")


def _apply(notice: Notice, draft: NoticeDraft) -> None:
    notice.subject_name = draft.subject_name.strip()
    notice.aliases = "\n".join(a.strip() for a in draft.aliases if a.strip())
    for name in _TEXT_FIELDS:
        value = getattr(draft, name)
        setattr(notice, name, value.strip() if isinstance(value, str) else value)
    notice.charges = [
        Charge(
            position=i,
            citation=c.citation.strip(),
            description=c.description.strip(),
            severity=c.severity,
            warrant_date=c.warrant_date,
        )
        for i, c in enumerate(draft.charges)
    ]
    notice.contact_lines = [
        ContactLine(position=i, label=c.label.strip(), phone=c.phone.strip(), note=c.note.strip())
        for i, c in enumerate(draft.contact_lines)
    ]


def create_notice(session: Session, draft: NoticeDraft, actor: StaffUser | str) -> Notice:
    """Create a draft notice with its charges and contact lines; ``actor`` is its author."""
    require_role(actor, NOTICE_WRITERS, "write notices")
    _check_draft(draft)
    author_id, author = actor_ref(actor)
    notice = Notice(
        slug=_unique_slug(session, slugify(draft.subject_name)),
        status=NoticeStatus.DRAFT,
        created_by_id=author_id,
        created_by=author,
        updated_at=utcnow(),
    )
    _apply(notice, draft)
    session.add(notice)
    session.flush()
    audit.record(session, actor, "notice.created", "notice", notice.slug)
    return notice


def draft_of(notice: Notice) -> NoticeDraft:
    """The notice as a draft, to fill the edit form or compare with an edit."""
    return NoticeDraft(
        subject_name=notice.subject_name,
        aliases=notice.alias_list,
        charges=[
            ChargeDraft(c.citation, c.description, c.severity, c.warrant_date)
            for c in notice.charges
        ],
        contact_lines=[ContactDraft(c.label, c.phone, c.note) for c in notice.contact_lines],
        **{name: getattr(notice, name) for name in _TEXT_FIELDS},
    )


def snapshot(notice: Notice) -> dict[str, Any]:
    """A JSON-ready picture of the notice as the public would see it (plus the case number)."""
    data = asdict(draft_of(notice))
    data["date_of_birth"] = notice.date_of_birth.isoformat() if notice.date_of_birth else None
    for charge in data["charges"]:
        charge["severity"] = str(charge["severity"])
        if charge["warrant_date"] is not None:
            charge["warrant_date"] = charge["warrant_date"].isoformat()
    data["status"] = notice.status.value
    data["photos"] = [
        {"id": p.id, "alt_text": p.alt_text, "caption": p.caption} for p in notice.photos
    ]
    return data


def check_editable(notice: Notice) -> None:
    """Refuse changes to archived notices, to notices whose details were removed, and to
    notices in review (the reviewer approves exactly what was sent)."""
    if notice.status is NoticeStatus.IN_REVIEW:
        raise NoticeRefused(
            "This notice is waiting for review, so the reviewer approves exactly what was sent. "
            "Return it to draft to change it."
        )
    if notice.status is NoticeStatus.ARCHIVED:
        raise NoticeRefused("This notice is archived and can no longer be changed.")
    if notice.details_removed_at is not None:
        raise NoticeRefused(
            "This notice's photos and personal details were removed after its resolution; "
            "it can no longer be changed."
        )


def record_change(
    session: Session, notice: Notice, actor: StaffUser | str, fields: list[str]
) -> None:
    """Audit an edit; on a public notice also keep a version and mark it changed."""
    version = None
    if notice.is_public:
        version = add_version(session, notice, actor).number
        notice.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "notice.edited",
        "notice",
        notice.slug,
        fields=fields,
        status=notice.status.value,
        version=version,
    )


def add_version(session: Session, notice: Notice, actor: StaffUser | str) -> NoticeVersion:
    """Keep a snapshot of the notice as it stands now, numbered after the last one."""
    session.flush()
    last = session.scalar(
        select(func.max(NoticeVersion.number)).where(NoticeVersion.notice_id == notice.id)
    )
    by_id, by = actor_ref(actor)
    version = NoticeVersion(
        notice=notice,
        number=(last or 0) + 1,
        snapshot=snapshot(notice),
        created_by_id=by_id,
        created_by=by,
    )
    session.add(version)
    session.flush()
    return version


def update_notice(
    session: Session, notice: Notice, draft: NoticeDraft, actor: StaffUser | str
) -> list[str]:
    """Replace the notice's record with ``draft``. Returns the names of the fields that
    changed (nothing is written or audited when none did). Archived notices are refused."""
    require_role(actor, NOTICE_WRITERS, "edit notices")
    check_editable(notice)
    _check_draft(draft)
    before = asdict(draft_of(notice))
    after = asdict(draft)
    changed = [name for name in after if _normal(after[name]) != _normal(before[name])]
    if not changed:
        return []
    _apply(notice, draft)
    record_change(session, notice, actor, changed)
    return changed


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_normal(v) for v in value if v != ""]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def get_notice(session: Session, notice_id: int) -> Notice | None:
    """Any notice by id, for staff screens."""
    return session.get(Notice, notice_id)


def notices_by_status(session: Session) -> dict[NoticeStatus, list[Notice]]:
    """Every notice grouped by status (workflow order), most recently changed first."""
    grouped: dict[NoticeStatus, list[Notice]] = {s: [] for s in NoticeStatus}
    for notice in session.scalars(
        select(Notice).order_by(Notice.updated_at.desc(), Notice.id.desc())
    ):
        grouped[notice.status].append(notice)
    return grouped


def published_notices(session: Session) -> list[Notice]:
    """Published notices, newest first, for the gallery."""
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.PUBLISHED)
            .options(selectinload(Notice.charges), selectinload(Notice.photos))
            .order_by(Notice.published_at.desc(), Notice.id.desc())
        )
    )


def public_notice(session: Session, slug: str) -> Notice | None:
    """A notice the public may see (published or resolved), or None."""
    if not is_slug(slug):
        return None
    return session.scalar(
        select(Notice)
        .where(Notice.slug == slug, Notice.status.in_(PUBLIC_STATUSES))
        .options(
            selectinload(Notice.charges),
            selectinload(Notice.contact_lines),
            selectinload(Notice.photos),
        )
    )


def notice_taking_tips(session: Session, slug: str) -> Notice | None:
    """A published notice, for its tip form: the notice row alone (the form shows its name and
    contact lines, which load on first use), or None."""
    if not is_slug(slug):
        return None
    return session.scalar(
        select(Notice).where(Notice.slug == slug, Notice.status == NoticeStatus.PUBLISHED)
    )


def default_contact_lines(session: Session) -> list[ContactLine]:
    """The agency's default contact lines, in order."""
    return list(
        session.scalars(
            select(ContactLine)
            .where(ContactLine.notice_id.is_(None))
            .order_by(ContactLine.position)
        )
    )


def contact_lines_for(session: Session, notice: Notice | None) -> list[ContactLine]:
    """The notice's own contact lines, or the agency's defaults when it has none."""
    if notice is not None and notice.contact_lines:
        return list(notice.contact_lines)
    return default_contact_lines(session)
