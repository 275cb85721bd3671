"""Changes to a public notice that need a second person: edits, resolution, correction.

A published notice says to the public that someone is wanted, and a resolved one that they
are not; either is as consequential as the first publication, so neither changes on one
person's word. A PIO (or, for a resolution, a supervisor) proposes; the change waits in a
``NoticeChange`` while the public keeps seeing the live version; another PIO or a supervisor
who had no hand in it approves (``approve_change``) or anyone who may propose withdraws it.
Audited as ``notice.change_proposed`` / ``notice.resolution_requested`` /
``notice.correction_requested``, then ``notice.edited`` / ``notice.resolved`` /
``notice.resolution_corrected`` (by the approver) or ``notice.change_withdrawn``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.notices.models import (
    ChangeKind,
    ChangeState,
    Notice,
    NoticeChange,
    NoticePhoto,
    NoticeStatus,
    Resolution,
)
from tipline.notices.services import (
    NOTICE_REVIEWERS,
    NOTICE_WRITERS,
    NoticeRefused,
    actor_ref,
    apply_draft,
    check_editable,
    draft_from_json,
    draft_of,
    proposer_ref,
    record_change,
    require_role,
)
from tipline.notices.workflow import SelfApproval


def _new_change(
    notice: Notice, kind: ChangeKind, actor: StaffUser | str, proposal: dict[str, object]
) -> NoticeChange:
    if notice.pending(kind) is not None:
        raise NoticeRefused(
            f"{kind.label} is already waiting for approval. Approve or withdraw it first."
        )
    change = NoticeChange(
        kind=kind,
        state=ChangeState.PENDING,
        proposal=proposal,
        fields=["status"],
        proposers=[proposer_ref(actor)],
        proposed_by=actor_ref(actor)[1],
        proposed_at=utcnow(),
        decided_by="",
    )
    notice.changes.append(change)
    return change


def request_resolution(
    session: Session,
    notice: Notice,
    actor: StaffUser | str,
    resolution: Resolution,
    on: date,
    now: datetime | None = None,
) -> NoticeChange:
    """Ask a second person to approve that the person was arrested, surrendered, was located,
    or that the warrant was cleared or the notice withdrawn. Nothing public changes yet."""
    require_role(actor, NOTICE_REVIEWERS, "resolve notices")
    if notice.status is not NoticeStatus.PUBLISHED:
        raise NoticeRefused(
            "Only a notice that is published can be resolved; "
            f"this one is {notice.status.label.lower()}."
        )
    if on > (now or utcnow()).date():
        raise NoticeRefused("The date of the resolution cannot be in the future.")
    change = _new_change(
        notice, ChangeKind.RESOLVE, actor, {"resolution": resolution.value, "date": on.isoformat()}
    )
    session.flush()
    audit.record(
        session,
        actor,
        "notice.resolution_requested",
        "notice",
        notice.slug,
        resolution=resolution.value,
        date=on.isoformat(),
    )
    return change


def request_correction(
    session: Session, notice: Notice, actor: StaffUser | str, reason: str
) -> NoticeChange:
    """Ask a second person to approve that the resolution was made in error: the notice goes
    back to published and its page and feeds say it was corrected."""
    require_role(actor, NOTICE_REVIEWERS, "correct resolutions")
    if notice.status is not NoticeStatus.RESOLVED:
        raise NoticeRefused("Only a resolved notice can be corrected back to published.")
    if notice.details_removed_at is not None:
        raise NoticeRefused(
            "This notice's photos and personal details were removed after its resolution. "
            "Write a new notice instead."
        )
    if not reason.strip():
        raise NoticeRefused("Say what was wrong with the resolution, for the record.")
    change = _new_change(notice, ChangeKind.CORRECT, actor, {"reason": reason.strip()})
    session.flush()
    audit.record(
        session, actor, "notice.correction_requested", "notice", notice.slug, reason=reason.strip()
    )
    return change


def _proposed_by(change: NoticeChange, actor: StaffUser | str) -> bool:
    actor_id, label = actor_ref(actor)
    for ref in change.proposers:
        ref_id, _, ref_label = ref.partition(":")
        if actor_id is not None and ref_id:
            if str(actor_id) == ref_id:
                return True
        elif ref_label == label:
            return True
    return False


def may_approve(change: NoticeChange, actor: StaffUser | str) -> bool:
    """Whether ``actor`` is a second person for this change (their role is checked apart)."""
    return not _proposed_by(change, actor)


def _pending(notice: Notice, change_id: int) -> NoticeChange:
    change = next((c for c in notice.pending_changes if c.id == change_id), None)
    if change is None:
        raise NoticeRefused("That change is no longer waiting: it was approved or withdrawn.")
    return change


def approve_change(
    session: Session,
    notice: Notice,
    change_id: int,
    approver: StaffUser | str,
    now: datetime | None = None,
) -> NoticeChange:
    """Make a pending change public. The approver must be a PIO or supervisor who did not
    propose it (or any part of it)."""
    require_role(approver, NOTICE_REVIEWERS, "approve changes to notices")
    change = _pending(notice, change_id)
    if _proposed_by(change, approver):
        raise SelfApproval(
            "You cannot approve a change you proposed. Another PIO or a supervisor must approve it."
        )
    now = now or utcnow()
    proposers = ", ".join(ref.partition(":")[2] for ref in change.proposers)
    if change.kind is ChangeKind.EDIT:
        _approve_edit(session, notice, change, approver, proposers)
    else:
        settle = _resolve if change.kind is ChangeKind.RESOLVE else _correct
        action, details = settle(notice, change, now)
        session.flush()
        audit.record(
            session, approver, action, "notice", notice.slug, **details, proposed_by=proposers
        )
    change.state = ChangeState.APPROVED
    change.decided_by_id, change.decided_by = actor_ref(approver)
    change.decided_at = now
    session.flush()
    return change


def _approve_edit(
    session: Session,
    notice: Notice,
    change: NoticeChange,
    approver: StaffUser | str,
    proposers: str,
) -> None:
    check_editable(notice)
    apply_draft(notice, draft_from_json(change.proposal["record"]))
    added = set(change.proposal.get("add_photos", []))
    removed = set(change.proposal.get("remove_photos", []))
    for photo in list(notice.photos):
        if photo.id in removed:
            notice.photos.remove(photo)
        elif photo.id in added:
            photo.approved = True
    session.flush()
    record_change(session, notice, approver, change.fields, proposed_by=proposers)


def _resolve(notice: Notice, change: NoticeChange, now: datetime) -> tuple[str, dict[str, str]]:
    """Resolve ``notice`` as ``change`` proposed; the audit action and its details."""
    if notice.status is not NoticeStatus.PUBLISHED:
        raise NoticeRefused("The notice is no longer published, so it cannot be resolved.")
    notice.status = NoticeStatus.RESOLVED
    notice.resolution = Resolution(change.proposal["resolution"])
    notice.resolved_on = date.fromisoformat(change.proposal["date"])
    notice.resolved_at = now
    notice.updated_at = now
    details = {"resolution": change.proposal["resolution"], "date": change.proposal["date"]}
    return "notice.resolved", details


def _correct(notice: Notice, change: NoticeChange, now: datetime) -> tuple[str, dict[str, str]]:
    """Take back ``notice``'s resolution as ``change`` proposed; the audit action and its
    details."""
    if notice.status is not NoticeStatus.RESOLVED or notice.details_removed_at is not None:
        raise NoticeRefused("The notice is no longer resolved, so there is nothing to correct.")
    was = notice.resolution_text
    notice.correction_note = correction_note(notice)
    notice.status = NoticeStatus.PUBLISHED
    notice.corrected_at = now
    notice.resolution = None
    notice.resolved_on = None
    notice.resolved_at = None
    notice.updated_at = now
    return "notice.resolution_corrected", {"was": was, "reason": change.proposal["reason"]}


def correction_note(notice: Notice) -> str:
    """What the feeds and the API say once a resolution is corrected (the page says it in the
    reader's language)."""
    return (
        f"This notice said “{notice.resolution_text}” in error. "
        f"{notice.subject_name} is still wanted."
    )


def withdraw_change(
    session: Session, notice: Notice, change_id: int, actor: StaffUser | str
) -> None:
    """Drop a pending change; photos it would have added go with it."""
    require_role(actor, NOTICE_WRITERS | NOTICE_REVIEWERS, "withdraw changes to notices")
    change = _pending(notice, change_id)
    for photo_id in change.proposal.get("add_photos", []):
        photo = next((p for p in notice.photos if p.id == photo_id and not p.approved), None)
        if photo is not None:
            notice.photos.remove(photo)
    change.state = ChangeState.WITHDRAWN
    change.decided_by_id, change.decided_by = actor_ref(actor)
    change.decided_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "notice.change_withdrawn", "notice", notice.slug, kind=change.kind.value
    )


def awaiting_approval(session: Session) -> int:
    """How many notices wait for a second person: in review, or with a pending change."""
    pending = select(NoticeChange.notice_id).where(NoticeChange.state == ChangeState.PENDING)
    return (
        session.scalar(
            select(func.count(Notice.id)).where(
                or_(Notice.status == NoticeStatus.IN_REVIEW, Notice.id.in_(pending))
            )
        )
        or 0
    )


def preview(notice: Notice, change: NoticeChange | None = None) -> tuple[Notice, list[NoticePhoto]]:
    """The notice as the public will see it once ``change`` (or, for a notice in review, its
    publication) is approved, with the photos it will show.

    The copy is transient (never added to a session) and carries the notice's id and slug, so
    links built from it are the real ones."""
    after = Notice(
        id=notice.id,
        slug=notice.slug,
        status=NoticeStatus.PUBLISHED if notice.status is NoticeStatus.IN_REVIEW else notice.status,
        published_at=notice.published_at or utcnow(),
        updated_at=notice.updated_at,
        resolution=notice.resolution,
        resolved_on=notice.resolved_on,
        correction_note=notice.correction_note,
        corrected_at=notice.corrected_at,
        details_removed_at=notice.details_removed_at,
        translations=dict(notice.translations or {}),
    )
    draft = draft_of(notice)
    shown = [p for p in notice.photos if p.approved or notice.status is NoticeStatus.IN_REVIEW]
    if change is not None and change.kind is ChangeKind.EDIT:
        draft = draft_from_json(change.proposal["record"])
        added = set(change.proposal.get("add_photos", []))
        removed = set(change.proposal.get("remove_photos", []))
        shown = [p for p in notice.photos if (p.approved or p.id in added) and p.id not in removed]
    elif change is not None and change.kind is ChangeKind.RESOLVE:
        after.status = NoticeStatus.RESOLVED
        after.resolution = Resolution(change.proposal["resolution"])
        after.resolved_on = date.fromisoformat(change.proposal["date"])
    elif change is not None:
        after.status = NoticeStatus.PUBLISHED
        after.resolution = after.resolved_on = None
        after.correction_note = correction_note(notice)
        after.corrected_at = utcnow()
    apply_draft(after, draft)
    return after, shown
