"""Who may see which tip, photo and notice, and the refusals the triage services raise.

This module is the one place staff code loads a tip, a tipster's photo or a staff-only notice
by reference: ``visible_tip``, ``visible_photo`` and ``visible_notice`` apply the role and the
unit rule together and answer None ("not found") for anything the viewer may not see, so a
new path cannot forget the rule and a refusal does not reveal that the object exists. List
queries (queue, search, notice boards) add ``tip_visibility_clause`` to their ``WHERE``.

The rule (docs/triage.md): detectives and supervisors read tips; a detective with a unit
reads tips on notices of that unit and general tips (on no notice); everyone else in those
roles reads every tip. PIOs and supervisors read every notice, drafts included; detectives
read notices past review, within their unit when they have one; other roles read none here.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session, selectinload

from tipline import db
from tipline.audit import NotAllowed
from tipline.auth.models import TIP_READERS, Role, StaffUser
from tipline.notices.models import Notice, NoticeStatus
from tipline.tips import receipts
from tipline.tips.models import MIN_REF_PREFIX, Tip, TipAttachment
from tipline.tips.receipts import REF_CHARS

__all__ = [
    "NOTICE_READERS",
    "TIP_READERS",
    "NotAllowed",
    "TipNotFound",
    "can_see_tip",
    "require_reader",
    "tip_visibility_clause",
    "visible_notice",
    "visible_photo",
    "visible_tip",
    "visible_tips_starting",
]

#: Roles that read every notice, drafts and notices in review included.
NOTICE_READERS = frozenset({Role.PIO, Role.SUPERVISOR})
_STAFF_ONLY = (NoticeStatus.DRAFT, NoticeStatus.IN_REVIEW)


class TipNotFound(LookupError):
    """No tip by that reference that this staff member may see (the two are not told apart)."""


def require_reader(viewer: StaffUser) -> None:
    if viewer.role not in TIP_READERS or not viewer.active:
        raise NotAllowed("Your role does not give access to tips.")


def require_supervisor(actor: StaffUser) -> None:
    if actor.role is not Role.SUPERVISOR or not actor.active:
        raise NotAllowed("Only a supervisor can do this.")


# --- The rule ---------------------------------------------------------------------------------


def _unit_limited(viewer: StaffUser) -> bool:
    return viewer.role is Role.DETECTIVE and viewer.unit_id is not None


def tip_visibility_clause(viewer: StaffUser) -> ColumnElement[bool]:
    """The tips ``viewer`` may read, as a condition on ``Tip`` (the role is checked apart):
    a detective with a unit reads tips on their unit's notices and general tips (no notice)."""
    if not _unit_limited(viewer):
        return true()
    return or_(
        Tip.notice_id.is_(None),
        Tip.notice_id.in_(select(Notice.id).where(Notice.unit_id == viewer.unit_id)),
    )


def _may_read_tips(viewer: StaffUser) -> bool:
    return viewer.role in TIP_READERS and viewer.active


def visible_tip(
    session: Session,
    viewer: StaffUser,
    ref: str | None = None,
    *,
    tip_id: int | None = None,
    for_write: bool = False,
) -> Tip | None:
    """The tip with public reference ``ref`` (or database id ``tip_id``) if ``viewer`` may see
    it; None when there is no such tip or the viewer may not see it. The only staff lookup of
    a single tip.

    ``for_write``: the request is about to change the tip, so it is read under the writers'
    lock the write will hold, and fresh from the database: checks made on it (who holds the
    claim, the status) see what is committed while this request is the only writer, and a
    supervisor's reassignment committed a moment before cannot be missed. PostgreSQL takes the
    audit chain's lock (``db.hold_chain_lock``) before the read; SQLite request transactions
    begin IMMEDIATE, which already holds the write lock before the first read.
    """
    if not _may_read_tips(viewer) or (ref is None) == (tip_id is None):
        return None
    key = Tip.public_ref == ref if ref is not None else Tip.id == tip_id
    query = (
        select(Tip)
        .where(key, tip_visibility_clause(viewer))
        .options(selectinload(Tip.notice), selectinload(Tip.claimed_by))
    )
    if for_write:
        db.hold_chain_lock(session.connection())
        query = query.execution_options(populate_existing=True)
    return session.scalar(query)


def tips_starting(session: Session, typed: str, *where: ColumnElement[bool]) -> list[Tip]:
    """The tips (at most two) matching ``where`` whose reference is ``typed`` or, when a
    person typed at least MIN_REF_PREFIX characters, starts with it (spaces, dashes and lower
    case forgiven). Two means the prefix is ambiguous. The caller has checked the reader."""
    ref = receipts.normalise_ref(typed)
    query = select(Tip).where(*where)
    if len(ref) >= REF_CHARS or len(ref) < MIN_REF_PREFIX:
        query = query.where(Tip.public_ref == ref)
    else:
        # A range on the unique index (references use only digits and capitals, which sort
        # the same in every collation), so the lookup reads at most two index entries.
        query = query.where(Tip.public_ref >= ref)
        upper = receipts.next_prefix(ref)
        if upper is not None:
            query = query.where(Tip.public_ref < upper)
    return list(
        session.scalars(
            query.order_by(Tip.public_ref)
            .limit(2)
            .options(selectinload(Tip.notice), selectinload(Tip.claimed_by))
        )
    )


def visible_tips_starting(session: Session, viewer: StaffUser, typed: str) -> list[Tip]:
    """``tips_starting`` among the tips ``viewer`` may see."""
    if not _may_read_tips(viewer):
        return []
    ref = receipts.normalise_ref(typed)
    if len(ref) >= REF_CHARS or len(ref) < MIN_REF_PREFIX:
        found = visible_tip(session, viewer, ref)
        return [found] if found is not None else []
    return tips_starting(session, ref, tip_visibility_clause(viewer))


def can_see_tip(session: Session, viewer: StaffUser, tip: Tip) -> bool:
    """Whether ``viewer`` may see ``tip`` (for handing a tip to someone, for example)."""
    return visible_tip(session, viewer, tip_id=tip.id) is not None


def visible_photo(
    session: Session, viewer: StaffUser, tip_ref: str, photo_ref: str
) -> tuple[Tip, TipAttachment] | None:
    """A tipster's photo and its tip, if ``viewer`` may see the tip and the photo belongs
    to it; None otherwise."""
    tip = visible_tip(session, viewer, tip_ref)
    if tip is None:
        return None
    photo = session.scalar(
        select(TipAttachment).where(
            TipAttachment.tip_id == tip.id, TipAttachment.public_ref == photo_ref
        )
    )
    return (tip, photo) if photo is not None else None


def visible_notice(
    session: Session, viewer: StaffUser, *, notice_id: int | None = None, slug: str | None = None
) -> Notice | None:
    """A notice for a staff screen, by id or slug, if ``viewer`` may see it; None otherwise.
    Drafts and notices in review are for PIOs and supervisors only."""
    if not viewer.active or (notice_id is None) == (slug is None):
        return None
    key = Notice.id == notice_id if notice_id is not None else Notice.slug == slug
    query = select(Notice).where(key)
    if viewer.role in NOTICE_READERS:
        return session.scalar(query)
    if viewer.role not in TIP_READERS:
        return None
    query = query.where(Notice.status.not_in(_STAFF_ONLY))
    if _unit_limited(viewer):
        query = query.where(Notice.unit_id == viewer.unit_id)
    return session.scalar(query)


def visible_notices_clause(viewer: StaffUser) -> ColumnElement[bool]:
    """The notices a tip reader may pick in the queue's filter, as a condition on Notice."""
    condition: ColumnElement[bool] = Notice.status.not_in(_STAFF_ONLY)
    if _unit_limited(viewer):
        condition = condition & (Notice.unit_id == viewer.unit_id)
    return condition


# --- Refusals of the triage services ---------------------------------------------------------


class TransitionRefused(ValueError):
    """The change is not allowed; the message is a plain sentence saying why."""


class AlreadyClaimed(TransitionRefused):
    pass


class NeedsSupervisor(NotAllowed):
    pass


def require_holder(actor: StaffUser, tip: Tip) -> None:
    """Only the detective holding the claim, or a supervisor, works a tip."""
    require_reader(actor)
    if actor.role is Role.SUPERVISOR:
        return
    if tip.claimed_by_id != actor.id:
        raise NotAllowed("Claim this tip before working on it.")


def clean_reason(reason: str) -> str:
    return " ".join(reason.split())[:2000]
