"""Notices: writing a notice's record, keeping versions, and reading what the public may see.

The life cycle (submit, approve, return, resolve, archive, retention) is in ``workflow.py``;
photos are in ``photos.py``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from tipline import audit
from tipline.auth.models import Role, StaffUser, Unit
from tipline.db import utcnow
from tipline.notices.models import (
    PUBLIC_STATUSES,
    TRANSLATION_LANGUAGES,
    ChangeKind,
    ChangeState,
    Charge,
    ContactLine,
    Notice,
    NoticeChange,
    NoticeStatus,
    NoticeVersion,
    PhoneInvalid,
    Severity,
    format_phone,
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
    # The note in Spanish and Vietnamese ({"es": "..."}): only the languages given.
    note_translations: dict[str, str] = field(default_factory=dict)


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
    #: The investigating unit (staff only): its detectives read the notice's tips.
    unit_id: int | None = None
    charges: list[ChargeDraft] = field(default_factory=list)
    contact_lines: list[ContactDraft] = field(default_factory=list)
    # {"es": {"caution": "..."}, "vi": {...}}: only the parts that were translated.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


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
    "translations",
    "unit_id",
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
    for line in draft.contact_lines:
        try:
            format_phone(line.phone)
        except PhoneInvalid as invalid:
            raise NoticeRefused(f"{line.label}: {invalid}") from None


def apply_draft(notice: Notice, draft: NoticeDraft) -> None:
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
        ContactLine(
            position=i,
            label=c.label.strip(),
            phone=format_phone(c.phone),
            note=c.note.strip(),
            note_translations=_given(c.note_translations),
        )
        for i, c in enumerate(draft.contact_lines)
    ]


def _given(texts: dict[str, str]) -> dict[str, str]:
    """The translations that say something, in the languages we publish."""
    return {
        language: texts[language].strip()
        for language in TRANSLATION_LANGUAGES
        if (texts.get(language) or "").strip()
    }


def _check_unit(session: Session, draft: NoticeDraft) -> None:
    if draft.unit_id is not None and session.get(Unit, draft.unit_id) is None:
        raise NoticeRefused("Choose the unit from the list, or “No unit”.")


def notices_with_unit(session: Session, unit_id: int) -> int:
    """How many notices carry the unit (none: its detectives would see no notice's tips)."""
    return session.scalar(select(func.count()).where(Notice.unit_id == unit_id)) or 0


def create_notice(session: Session, draft: NoticeDraft, actor: StaffUser | str) -> Notice:
    """Create a draft notice with its charges and contact lines; ``actor`` is its author."""
    require_role(actor, NOTICE_WRITERS, "write notices")
    _check_draft(draft)
    _check_unit(session, draft)
    author_id, author = actor_ref(actor)
    notice = Notice(
        slug=_unique_slug(session, slugify(draft.subject_name)),
        status=NoticeStatus.DRAFT,
        created_by_id=author_id,
        created_by=author,
        updated_at=utcnow(),
    )
    apply_draft(notice, draft)
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
        contact_lines=[
            ContactDraft(c.label, c.phone, c.note, dict(c.note_translations or {}))
            for c in notice.contact_lines
        ],
        **{name: getattr(notice, name) for name in _TEXT_FIELDS},
    )


def draft_json(draft: NoticeDraft) -> dict[str, Any]:
    """The draft as JSON-ready values (``draft_from_json`` reads it back)."""
    data = asdict(draft)
    data["date_of_birth"] = draft.date_of_birth.isoformat() if draft.date_of_birth else None
    for charge in data["charges"]:
        charge["severity"] = str(charge["severity"])
        if charge["warrant_date"] is not None:
            charge["warrant_date"] = charge["warrant_date"].isoformat()
    return data


def draft_from_json(data: dict[str, Any]) -> NoticeDraft:
    """The draft kept by ``draft_json`` (extra keys, such as a snapshot's status, ignored)."""
    values = {k: v for k, v in data.items() if k in NoticeDraft.__dataclass_fields__}
    if values.get("date_of_birth"):
        values["date_of_birth"] = date.fromisoformat(values["date_of_birth"])
    values["charges"] = [
        ChargeDraft(
            c["citation"],
            c["description"],
            Severity(c["severity"]),
            date.fromisoformat(c["warrant_date"]) if c.get("warrant_date") else None,
        )
        for c in values.get("charges", [])
    ]
    values["contact_lines"] = [
        ContactDraft(
            c["label"], c["phone"], c.get("note", ""), dict(c.get("note_translations") or {})
        )
        for c in values.get("contact_lines", [])
    ]
    return NoticeDraft(**values)


def snapshot(notice: Notice) -> dict[str, Any]:
    """A JSON-ready picture of the notice as the public would see it (plus the case number)."""
    data = draft_json(draft_of(notice))
    data["status"] = notice.status.value
    data["photos"] = [
        {"id": p.id, "alt_text": p.alt_text, "caption": p.caption} for p in notice.public_photos
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
    session: Session,
    notice: Notice,
    actor: StaffUser | str,
    fields: list[str],
    **details: Any,
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
        **details,
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


#: A change to the free-text details of a public notice of at most this many characters is
#: taken as a typo fix and goes live at once (audited as such); anything else a second
#: person approves first.
TYPO_FIX_CHARACTERS = 10


def changed_fields(notice: Notice, draft: NoticeDraft) -> list[str]:
    """The names of the fields in which ``draft`` differs from the notice's live record."""
    before = asdict(draft_of(notice))
    after = asdict(draft)
    return [name for name in after if _normal(after[name]) != _normal(before[name])]


def characters_changed(before: str, after: str) -> int:
    """How many characters an edit touched (replaced, inserted or deleted)."""
    matcher = difflib.SequenceMatcher(None, before.strip(), after.strip(), autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"
    )


def is_typo_fix(notice: Notice, draft: NoticeDraft, changed: list[str]) -> bool:
    return changed == ["description"] and (
        characters_changed(notice.description, draft.description) <= TYPO_FIX_CHARACTERS
    )


def update_notice(
    session: Session, notice: Notice, draft: NoticeDraft, actor: StaffUser | str
) -> list[str]:
    """Replace the notice's record with ``draft``. Returns the names of the fields that
    changed (nothing is written or audited when none did). Archived notices are refused.

    On a public notice the change waits for a second person (``pending_edit``) and the public
    keeps seeing the live version, except a typo fix in the details (``is_typo_fix``)."""
    require_role(actor, NOTICE_WRITERS, "edit notices")
    check_editable(notice)
    _check_draft(draft)
    _check_unit(session, draft)
    changed = changed_fields(notice, draft)
    pending = notice.pending(ChangeKind.EDIT)
    if not changed and pending is None:
        return []
    if notice.is_public and not is_typo_fix(notice, draft, changed):
        change = pending_edit(session, notice, actor)
        if pending is not None and change.proposal["record"] == draft_json(draft):
            return []
        change.proposal = {**change.proposal, "record": draft_json(draft)}
        change.fields = sorted(set(changed) | ({"photos"} if _photo_changes(change) else set()))
        proposed_change(session, notice, change, actor)
        return changed
    apply_draft(notice, draft)
    record_change(
        session, notice, actor, changed, **({"typo_fix": True} if notice.is_public else {})
    )
    return changed


def _photo_changes(change: NoticeChange) -> bool:
    return bool(change.proposal.get("add_photos") or change.proposal.get("remove_photos"))


def proposer_ref(actor: StaffUser | str) -> str:
    actor_id, label = actor_ref(actor)
    return f"{actor_id if actor_id is not None else ''}:{label}"


def pending_edit(session: Session, notice: Notice, actor: StaffUser | str) -> NoticeChange:
    """The notice's pending edit, opened now (from the live record) if there is none; ``actor``
    joins its proposers, who may not approve it."""
    change = notice.pending(ChangeKind.EDIT)
    if change is None:
        change = NoticeChange(
            kind=ChangeKind.EDIT,
            state=ChangeState.PENDING,
            proposal={
                "record": draft_json(draft_of(notice)),
                "add_photos": [],
                "remove_photos": [],
            },
            fields=[],
            proposers=[],
            proposed_by="",
            proposed_at=utcnow(),
            decided_by="",
        )
        notice.changes.append(change)
    ref = proposer_ref(actor)
    if ref not in change.proposers:
        change.proposers = [*change.proposers, ref]
    change.proposed_by = actor_ref(actor)[1]
    change.proposed_at = utcnow()
    return change


def proposed_change(
    session: Session, notice: Notice, change: NoticeChange, actor: StaffUser | str
) -> None:
    """Audit a new or revised pending edit; one that no longer changes anything is dropped."""
    if not change.fields:
        change.state = ChangeState.WITHDRAWN
        session.flush()
        audit.record(session, actor, "notice.change_withdrawn", "notice", notice.slug)
        return
    session.flush()
    audit.record(
        session, actor, "notice.change_proposed", "notice", notice.slug, fields=change.fields
    )


def pending_draft(notice: Notice) -> NoticeDraft:
    """What the edit form starts from: the pending edit's record, or the live one."""
    change = notice.pending(ChangeKind.EDIT)
    return draft_from_json(change.proposal["record"]) if change else draft_of(notice)


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_normal(v) for v in value if v != ""]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


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
    return _public_list(session, NoticeStatus.PUBLISHED, Notice.published_at)


def resolved_notices(session: Session) -> list[Notice]:
    """Resolved notices (not archived), most recently resolved first, for the public list."""
    return _public_list(session, NoticeStatus.RESOLVED, Notice.resolved_at)


def _public_list(
    session: Session, status: NoticeStatus, when: InstrumentedAttribute[datetime | None]
) -> list[Notice]:
    """The notices in ``status``, their charges and photos loaded with them, the
    latest ``when`` first."""
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.status == status)
            .options(selectinload(Notice.charges), selectinload(Notice.photos))
            .order_by(when.desc(), Notice.id.desc())
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
