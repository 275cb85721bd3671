"""Working a tip: reading it (audited), status changes with their rules, priority, internal
notes, tags and links between tips. Claims are in ``claims.py`` and re-exported here.

Every function takes a session and plain values, writes its audit event in the same
transaction, flushes and never commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.tips import integrity, receipts
from tipline.tips.models import Tip, TipPriority, TipStatus
from tipline.triage import unread
from tipline.triage.access import (
    TIP_READERS,
    AlreadyClaimed,
    NeedsSupervisor,
    NotAllowed,
    TipNotFound,
    TransitionRefused,
    can_see_tip,
    clean_reason,
    require_holder,
    require_reader,
    require_supervisor,
    tip_visibility_clause,
    visible_tip,
    visible_tips_starting,
)
from tipline.triage.claims import claim_next_tip, claim_tip, reassign_tip, release_tip
from tipline.triage.closures import (
    ReviewPolicy,
    mark_closed,
    pending_confirmation,
    propose_closure,
    propose_lower_priority,
    sample_closure,
)
from tipline.triage.intake import due_time
from tipline.triage.models import ClosureReview, LinkKind, TipLink, TipNote, TipTag

# Claims live in claims.py; they are part of this module's interface too.
__all__ = [
    "TIP_READERS",
    "AlreadyClaimed",
    "NeedsSupervisor",
    "NotAllowed",
    "TipNotFound",
    "TransitionRefused",
    "claim_next_tip",
    "claim_tip",
    "reassign_tip",
    "release_tip",
]

S = TipStatus
#: The moves a tip may make. Claiming moves new -> in_review.
TRANSITIONS: dict[TipStatus, frozenset[TipStatus]] = {
    S.NEW: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.ACTIONABLE, S.FORWARDED, S.NEEDS_INFO, S.DUPLICATE, S.NO_ACTION}),
    S.NEEDS_INFO: frozenset({S.IN_REVIEW, S.ACTIONABLE, S.FORWARDED, S.DUPLICATE, S.NO_ACTION}),
    S.ACTIONABLE: frozenset({S.IN_REVIEW, S.FORWARDED, S.CLOSED}),
    S.FORWARDED: frozenset({S.CLOSED}),
    S.DUPLICATE: frozenset({S.CLOSED}),
    S.NO_ACTION: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
#: Outcomes that need a written reason (for "forwarded": to which unit or agency). Every
#: closing status is here: a tip's life does not end without a word on why.
REASON_REQUIRED = frozenset({S.NO_ACTION, S.DUPLICATE, S.FORWARDED, S.CLOSED})


# --- Reading ---------------------------------------------------------------------------------


def view_tip(session: Session, viewer: StaffUser, public_ref: str) -> Tip | None:
    """Open one tip for reading, recording that ``viewer`` saw it; None when there is no such
    tip or ``viewer`` may not see it."""
    require_reader(viewer)
    tip = visible_tip(session, viewer, public_ref)
    if tip is not None:
        audit.record(session, viewer, "tip.viewed", "tip", tip.public_ref)
        unread.mark_read(session, viewer, tip)
    return tip


class AmbiguousReference(TransitionRefused):
    """More than one tip starts with the typed reference."""


def find_tip(session: Session, viewer: StaffUser, public_ref: str) -> Tip | None:
    """A tip by reference for an action on it (the action writes its own audit event); None
    when there is no such tip or ``viewer`` may not see it.

    ``public_ref`` may be the whole reference or, as typed by a person, any prefix of at
    least MIN_REF_PREFIX characters that only one tip (that ``viewer`` may see) starts with;
    spaces, dashes and lower case are forgiven. Raises AmbiguousReference for a prefix that
    fits more than one."""
    require_reader(viewer)
    found = visible_tips_starting(session, viewer, public_ref)
    if len(found) > 1:
        raise AmbiguousReference(
            f"More than one tip starts with “{receipts.normalise_ref(public_ref)}”. "
            "Type more of the reference."
        )
    return found[0] if found else None


def tip_to_work(session: Session, viewer: StaffUser, public_ref: str) -> Tip | None:
    """``find_tip`` for a write request: the same rule, the tip read fresh under the writers'
    lock the write will hold (``visible_tip(..., for_write=True)``)."""
    require_reader(viewer)
    return visible_tip(session, viewer, public_ref, for_write=True)


# --- Status and priority ---------------------------------------------------------------------


def allowed_moves(tip: Tip) -> list[TipStatus]:
    return sorted(TRANSITIONS[tip.status], key=list(TipStatus).index)


def change_status(
    session: Session,
    actor: StaffUser,
    tip: Tip,
    new_status: TipStatus,
    reason: str = "",
    duplicate_of: Tip | None = None,
    review: ReviewPolicy | None = None,
) -> ClosureReview | None:
    """Move ``tip`` to ``new_status`` if the rules allow it, or raise with the reason why not.

    Rules: only the claimer (or a supervisor) works a tip; the move must be in
    ``TRANSITIONS``; closing and negative outcomes need a reason; "duplicate" names the
    original. Any closing status on a tip that was ever urgent is only proposed: the tip stays
    open until another supervisor confirms (the pending review is returned). Other closures
    picked by ``review``'s sample land on the supervisors' review list (also returned).
    """
    require_holder(actor, tip)
    reason = clean_reason(reason)
    if new_status not in TRANSITIONS[tip.status]:
        raise TransitionRefused(
            f"A tip that is “{tip.status.label}” cannot be moved to “{new_status.label}”."
        )
    if new_status in REASON_REQUIRED and not reason:
        if new_status is TipStatus.FORWARDED:
            raise TransitionRefused("Say which unit or agency the tip is forwarded to.")
        raise TransitionRefused(f"Say why this tip is “{new_status.label}”.")
    if pending_confirmation(session, tip) is not None:
        raise TransitionRefused(
            "This tip is waiting for a supervisor to confirm a change; it cannot move now."
        )
    details: dict[str, object] = {"from": tip.status.value, "to": new_status.value}
    original: Tip | None = None
    if new_status is TipStatus.DUPLICATE:
        if duplicate_of is None:
            raise TransitionRefused("Name the tip this one duplicates.")
        if not can_see_tip(session, actor, duplicate_of):
            raise TipNotFound("There is no tip with that reference.")
        original = duplicate_of
        while original.duplicate_of_id is not None:  # point at the first report, not a copy
            found = session.get(Tip, original.duplicate_of_id)
            assert found is not None  # a foreign key
            original = found
        if original.id == tip.id:
            raise TransitionRefused("A tip cannot be a duplicate of itself.")
        _ensure_link(session, actor, tip, original, LinkKind.DUPLICATE)
        details["duplicate_of"] = original.public_ref
    closing = not new_status.is_open
    if closing and (tip.ever_urgent or tip.priority is TipPriority.URGENT):
        return propose_closure(session, actor, tip, reason, new_status, original)
    if original is not None:
        tip.duplicate_of_id = original.id
    tip.status = new_status
    tip.status_reason = reason
    if closing:
        mark_closed(tip, actor)
    session.flush()
    audit.record(
        session, actor, "tip.status_changed", "tip", tip.public_ref, reason=reason, **details
    )
    if closing:
        return sample_closure(session, actor, tip, reason, review)
    return None


def set_priority(
    session: Session,
    actor: StaffUser,
    tip: Tip,
    priority: TipPriority,
    due_minutes: Mapping[str, int] | None = None,
) -> ClosureReview | None:
    """Change a tip's priority; its due time is recomputed from when it was received.

    Lowering an urgent tip's priority is only proposed (the pending review is returned): it
    takes effect when a supervisor other than ``actor`` confirms. Raising a tip to urgent marks
    it as ever urgent for good."""
    require_holder(actor, tip)
    if priority is tip.priority:
        return None
    if pending_confirmation(session, tip) is not None:
        raise TransitionRefused(
            "This tip is waiting for a supervisor to confirm a change; it cannot move now."
        )
    if tip.priority is TipPriority.URGENT:
        return propose_lower_priority(session, actor, tip, priority)
    if priority is TipPriority.URGENT:
        tip.ever_urgent = True
    previous = tip.priority
    tip.priority = priority
    tip.priority_rank = priority.rank
    tip.due_at = due_time(priority, tip.received_at, due_minutes)
    session.flush()
    audit.record(
        session,
        actor,
        "tip.priority_changed",
        "tip",
        tip.public_ref,
        **{"from": previous.value, "to": priority.value},
    )
    return None


# --- Notes -----------------------------------------------------------------------------------


def add_note(session: Session, actor: StaffUser, tip: Tip, body: str) -> TipNote:
    """An internal note on a tip. Notes are for staff only: nothing shows them to the tipster."""
    require_reader(actor)
    body = body.strip()
    if not body:
        raise ValueError("Write something in the note.")
    note = TipNote(tip_id=tip.id, author_id=actor.id, body=body[:20000])
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor,
        "tip.note_added",
        "tip",
        tip.public_ref,
        note_id=note.id,
        content=integrity.text_digest(note.body),
    )
    return note


def notes_for(session: Session, viewer: StaffUser, tip: Tip) -> list[TipNote]:
    require_reader(viewer)
    return list(
        session.scalars(
            select(TipNote)
            .where(TipNote.tip_id == tip.id)
            .options(selectinload(TipNote.author))
            .order_by(TipNote.id)
        )
    )


# --- Tags ------------------------------------------------------------------------------------

_TAG_OK = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def normalise_tag(raw: str) -> str:
    tag = re.sub(r"[\s_]+", "-", raw.strip().lower())
    if not _TAG_OK.match(tag):
        raise ValueError(
            "A tag is 1 to 40 letters, digits or dashes, for example “vehicle” or “east-bank”."
        )
    return tag


def add_tag(session: Session, actor: StaffUser, tip: Tip, raw: str) -> str:
    require_reader(actor)
    tag = normalise_tag(raw)
    if session.get(TipTag, (tip.id, tag)) is None:
        session.add(TipTag(tip_id=tip.id, tag=tag))
        session.flush()
        audit.record(session, actor, "tip.tagged", "tip", tip.public_ref, tag=tag)
    return tag


def remove_tag(session: Session, actor: StaffUser, tip: Tip, raw: str) -> None:
    require_reader(actor)
    tag = normalise_tag(raw)
    existing = session.get(TipTag, (tip.id, tag))
    if existing is not None:
        session.delete(existing)
        session.flush()
        audit.record(session, actor, "tip.untagged", "tip", tip.public_ref, tag=tag)


def tags_for(session: Session, tip_ids: Sequence[int]) -> dict[int, list[str]]:
    """Tags of many tips in one statement."""
    found: dict[int, list[str]] = {i: [] for i in tip_ids}
    if tip_ids:
        rows = session.execute(
            select(TipTag.tip_id, TipTag.tag)
            .where(TipTag.tip_id.in_(list(tip_ids)))
            .order_by(TipTag.tag)
        )
        for tip_id, tag in rows:
            found[tip_id].append(tag)
    return found


# --- Links -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedTip:
    kind: LinkKind
    tip: Tip
    #: True when this tip is the duplicate (the link points from it to ``tip``).
    outgoing: bool


def _ensure_link(
    session: Session, actor: StaffUser, tip: Tip, other: Tip, kind: LinkKind
) -> TipLink:
    existing = session.scalar(
        select(TipLink).where(
            or_(
                (TipLink.tip_id == tip.id) & (TipLink.other_id == other.id),
                (TipLink.tip_id == other.id) & (TipLink.other_id == tip.id),
            )
        )
    )
    if existing is not None:
        if kind is LinkKind.DUPLICATE and existing.kind is not LinkKind.DUPLICATE:
            existing.kind = kind
            existing.tip_id, existing.other_id = tip.id, other.id
            session.flush()
        return existing
    link = TipLink(tip_id=tip.id, other_id=other.id, kind=kind, created_by_id=actor.id)
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor,
        "tip.linked",
        "tip",
        tip.public_ref,
        other=other.public_ref,
        kind=kind.value,
    )
    return link


def link_tips(
    session: Session, actor: StaffUser, tip: Tip, other: Tip, kind: LinkKind = LinkKind.RELATED
) -> TipLink:
    """Record that two tips are related. (Marking a duplicate goes through change_status.)
    Both must be tips ``actor`` may see (TipNotFound otherwise)."""
    require_reader(actor)
    if not (can_see_tip(session, actor, tip) and can_see_tip(session, actor, other)):
        raise TipNotFound("There is no tip with that reference.")
    if tip.id == other.id:
        raise ValueError("A tip cannot be linked to itself.")
    return _ensure_link(session, actor, tip, other, kind)


def links_for(session: Session, viewer: StaffUser, tip: Tip) -> list[LinkedTip]:
    require_reader(viewer)
    rows = session.scalars(
        select(TipLink)
        .where(or_(TipLink.tip_id == tip.id, TipLink.other_id == tip.id))
        .options(selectinload(TipLink.tip), selectinload(TipLink.other))
        .order_by(TipLink.id)
    )
    linked = [
        LinkedTip(
            link.kind, link.other if link.tip_id == tip.id else link.tip, link.tip_id == tip.id
        )
        for link in rows
    ]
    if not linked:
        return []
    # A link to a tip the viewer may not see (another unit's) is left out, not shown.
    visible = set(
        session.scalars(
            select(Tip.id).where(
                Tip.id.in_([found.tip.id for found in linked]), tip_visibility_clause(viewer)
            )
        )
    )
    return [found for found in linked if found.tip.id in visible]


def assignable_staff(session: Session, supervisor: StaffUser) -> list[StaffUser]:
    """Who a supervisor can hand a tip to: active detectives and supervisors."""
    require_supervisor(supervisor)
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.role.in_(list(TIP_READERS)), StaffUser.active.is_(True))
            .order_by(StaffUser.username)
        )
    )


def staff_by_id(session: Session, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id)
