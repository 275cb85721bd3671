"""A notice's life: draft → in review → published → resolved → archived, and retention.

Every step is audited with who and when, using the actions ``notice.submitted``,
``notice.returned``, ``notice.published``, ``notice.archived`` and ``notice.details_removed``
(the feeds and CAP messages are built from them). Publishing takes a second person: neither
the author nor whoever sent it for review may approve it. Resolving, correcting a resolution
and changing a public notice take a second person too (``changes.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit, db
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.notices.models import Notice, NoticeStatus, NoticeVersion
from tipline.notices.services import (
    NOTICE_REVIEWERS,
    NOTICE_WRITERS,
    NoticeRefused,
    actor_ref,
    add_version,
    require_role,
)

DEFAULT_RETENTION_DAYS = 30

#: Personal details taken down after retention (the name, charges and resolution stay).
PERSONAL_FIELDS = {
    "aliases": "",
    "description": "",
    "sex": "",
    "race": "",
    "age": None,
    "date_of_birth": None,
    "height": "",
    "weight": "",
    "hair": "",
    "eyes": "",
    "scars_marks": "",
    "last_known_area": "",
}


class SelfApproval(NoticeRefused):
    """The approver wrote or submitted the notice."""


def _require_status(notice: Notice, wanted: NoticeStatus, doing: str) -> None:
    if notice.status is not wanted:
        raise NoticeRefused(
            f"Only a notice that is {wanted.label.lower()} can be {doing}; "
            f"this one is {notice.status.label.lower()}."
        )


def publication_problems(notice: Notice) -> list[str]:
    """What stops the notice from being published, as sentences (empty when nothing does)."""
    problems = []
    if not notice.charges:
        problems.append("Add at least one charge: the public must know what the warrant is for.")
    if not notice.contact_lines:
        problems.append("Add at least one contact line, so people know whom to call.")
    return problems


def _is(actor: StaffUser | str, person_id: int | None, label: str) -> bool:
    actor_id, actor_label = actor_ref(actor)
    if actor_id is not None and person_id is not None:
        return actor_id == person_id
    return bool(label) and actor_label == label


def may_publish(notice: Notice, actor: StaffUser | str) -> bool:
    """Whether ``actor`` is a second person for this notice (their role is checked apart)."""
    return not (
        _is(actor, notice.created_by_id, notice.created_by)
        or _is(actor, notice.submitted_by_id, notice.submitted_by)
    )


def submit_for_review(session: Session, notice: Notice, actor: StaffUser | str) -> None:
    """Send a draft to a second person for approval."""
    require_role(actor, NOTICE_WRITERS, "send notices for review")
    _require_status(notice, NoticeStatus.DRAFT, "sent for review")
    problems = publication_problems(notice)
    if problems:
        raise NoticeRefused(" ".join(problems))
    notice.status = NoticeStatus.IN_REVIEW
    notice.submitted_by_id, notice.submitted_by = actor_ref(actor)
    session.flush()
    audit.record(session, actor, "notice.submitted", "notice", notice.slug)


def return_to_draft(session: Session, notice: Notice, actor: StaffUser | str, reason: str) -> None:
    """Send a notice in review back to its author with a reason."""
    require_role(actor, NOTICE_REVIEWERS, "review notices")
    _require_status(notice, NoticeStatus.IN_REVIEW, "returned to draft")
    if not reason.strip():
        raise NoticeRefused("Say why the notice goes back, so the author knows what to fix.")
    notice.status = NoticeStatus.DRAFT
    session.flush()
    audit.record(session, actor, "notice.returned", "notice", notice.slug, reason=reason.strip())


def publish_notice(session: Session, notice: Notice, approver: StaffUser | str) -> None:
    """Approve a notice in review and make it public. The approver must be a second person:
    not its author and not whoever sent it for review. Keeps version 1 of the notice."""
    require_role(approver, NOTICE_REVIEWERS, "approve notices")
    _require_status(notice, NoticeStatus.IN_REVIEW, "published")
    if not may_publish(notice, approver):
        raise SelfApproval(
            "You cannot approve a notice you wrote or sent for review. "
            "Another PIO or a supervisor must approve it."
        )
    problems = publication_problems(notice)
    if problems:
        raise NoticeRefused(" ".join(problems))
    now = utcnow()
    notice.status = NoticeStatus.PUBLISHED
    notice.published_at = now
    notice.updated_at = now
    version = add_version(session, notice, approver)
    audit.record(
        session, approver, "notice.published", "notice", notice.slug, version=version.number
    )


def archive_notice(session: Session, notice: Notice, actor: StaffUser | str) -> None:
    """Take a resolved notice off the public site for good. Archived notices cannot change."""
    require_role(actor, NOTICE_REVIEWERS, "archive notices")
    _require_status(notice, NoticeStatus.RESOLVED, "archived")
    now = utcnow()
    notice.status = NoticeStatus.ARCHIVED
    notice.archived_at = now
    notice.updated_at = now
    session.flush()
    audit.record(session, actor, "notice.archived", "notice", notice.slug)


def remove_details(session: Session, notice: Notice, now: datetime) -> None:
    """Take down the photos and personal details of one resolved notice, from the notice and
    from its kept versions, leaving the name, the charges and the resolution."""
    for name, empty in PERSONAL_FIELDS.items():
        setattr(notice, name, empty)
    notice.translations = {
        language: {k: v for k, v in texts.items() if k not in PERSONAL_FIELDS}
        for language, texts in (notice.translations or {}).items()
    }
    notice.photos.clear()
    for version in session.scalars(
        select(NoticeVersion).where(NoticeVersion.notice_id == notice.id)
    ):
        version.snapshot = {
            **version.snapshot,
            **{k: (None if v is None else "") for k, v in PERSONAL_FIELDS.items()},
            "aliases": [],
            "photos": [],
        }
    notice.details_removed_at = now
    if notice.status is NoticeStatus.RESOLVED:
        notice.updated_at = now
    session.flush()
    audit.record(session, audit.SYSTEM, "notice.details_removed", "notice", notice.slug)


def remove_expired_details(
    session: Session, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS
) -> list[Notice]:
    """Remove photos and personal details from every notice resolved more than
    ``retention_days`` before ``now`` (archived ones included). Returns the notices changed.
    Holds the writers' lock first, like the other periodic jobs, so it decides from what is
    committed (an archive or edit at that moment is seen, or waits)."""
    db.hold_chain_lock(session.connection())
    cutoff = now - timedelta(days=retention_days)
    due = list(
        session.scalars(
            select(Notice)
            .where(
                Notice.status.in_([NoticeStatus.RESOLVED, NoticeStatus.ARCHIVED]),
                Notice.resolved_at.is_not(None),
                Notice.resolved_at <= cutoff,
                Notice.details_removed_at.is_(None),
            )
            .order_by(Notice.id)
        )
    )
    for notice in due:
        remove_details(session, notice, now)
    return due
