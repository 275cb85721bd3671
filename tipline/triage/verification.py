"""What ``tipline audit verify`` checks about worked tips: every stored tip, answer, photo and
note still matches what its events committed to (``tipline.tips.integrity`` makes the
digests), a closed tip has its closing event and a priority its event. Registered with the
audit package from ``tipline.hooks``; here rather than in the tips domain because notes,
statuses and priorities are triage's."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit import verify
from tipline.audit.models import AuditEvent
from tipline.tips.integrity import photo_digest, received_version, text_digest, tip_digest
from tipline.tips.models import MessageDirection, Tip, TipAttachment, TipMessage, TipPriority
from tipline.triage.models import TipNote


def stored_tips_match_their_events(session: Session, report: verify.Report) -> None:
    """Re-hash the stored tips, answers, photos and notes against their events; the first
    difference (a rewritten, closed, reprioritised or emptied tip) fails the check."""
    if report.problem is not None:
        return
    finding = verify_tips(session)
    if finding is not None:
        report.problem = verify.Finding(str(finding))


@dataclass(frozen=True)
class TipFinding:
    tip_ref: str
    message: str

    def __str__(self) -> str:
        return f"tip {self.tip_ref}: {self.message}"


#: Events whose "to" is the tip's status afterwards.
STATUS_EVENTS = frozenset(
    {"tip.status_changed", "tip.no_action_confirmed", "tip.closure_confirmed", "tip.reopened"}
)
PRIORITY_EVENTS = frozenset({"tip.priority_changed", "tip.priority_lowering_confirmed"})
CLAIM_EVENTS = {
    "tip.claimed": "in_review",
    "tip.claim_expired": "new",
    "tip.released": "new",
}


def verify_tips(session: Session) -> TipFinding | None:
    """Recompute every stored tip's commitments; the first difference found, or None.

    Reads the tips, their messages, photos and notes, and the tip events, once each.
    """
    events: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "tip").order_by(AuditEvent.seq)
    ):
        events[event.object_id].append(event)
    messages = {m.id: m for m in session.scalars(select(TipMessage))}
    photos: dict[int, list[TipAttachment]] = defaultdict(list)
    for photo in session.scalars(select(TipAttachment).order_by(TipAttachment.id)):
        photos[photo.tip_id].append(photo)
    notes = {n.id: n for n in session.scalars(select(TipNote))}

    for tip in session.scalars(select(Tip).order_by(Tip.id)).yield_per(500):
        trail = events.get(tip.public_ref, [])
        finding = _check_tip(tip, trail, messages, photos[tip.id], notes)
        if finding is not None:
            return finding
    # An answer from the tipster must be in some tip's trail.
    answered = {
        e.details.get("message")
        for trail in events.values()
        for e in trail
        if e.action == "tip.answered"
    }
    for message in messages.values():
        if message.direction is MessageDirection.FROM_TIPSTER and message.id not in answered:
            return TipFinding(str(message.tip_id), f"answer {message.id} has no event: inserted.")
    return None


def _check_tip(tip, trail, messages, photos, notes) -> TipFinding | None:
    def bad(message: str) -> TipFinding:
        return TipFinding(tip.public_ref, message)

    received = [e for e in trail if e.action == "tip.received"]
    if len(received) != 1:
        return bad(f"{len(received)} tip.received events; there must be exactly one.")
    purged = tip.purged_at is not None
    if purged and not any(e.action == "tip.purged" for e in trail):
        return bad("its contents are emptied but there is no tip.purged event.")
    by_ref = {p.public_ref: p for p in photos}
    committed_photos = set()
    details = received[0].details
    if not purged and "content" in details:
        version = received_version(details)
        try:
            digest = tip_digest(tip, version)
        except ValueError:
            return bad(f"its tip.received names a content version ({version}) unknown here.")
        if details["content"] != digest:
            return bad("what is stored differs from what was received (the tip was rewritten).")
    # Per event that commits to a text: the detail naming its row, the rows, and the words.
    texts = {
        "tip.answered": ("message", messages, "answer", "received"),
        "tip.note_added": ("note_id", notes, "note", "written"),
    }
    for event in trail:
        if event.action in texts:
            key, rows, noun, how = texts[event.action]
            row = rows.get(event.details.get(key))
            if row is None:
                return bad(f"{noun} {event.details.get(key)} is missing (deleted).")
            content = event.details.get("content")
            if not purged and content is not None and content != text_digest(row.body):
                return bad(f"{noun} {row.id} differs from what was {how}.")
        for digest in event.details.get("photo_digests", []) if not purged else []:
            committed_photos.add(digest)
    if not purged:
        stored = {photo_digest(p) for p in by_ref.values()}
        if committed_photos - stored:
            return bad("a photo that was received is missing or changed.")
    statuses = [e.details.get("to") for e in trail if e.action in STATUS_EVENTS]
    if not tip.status.is_open and (not statuses or statuses[-1] != tip.status.value):
        return bad(f"it is “{tip.status.label}” but no event closed it so.")
    priorities = [e.details.get("to") for e in trail if e.action in PRIORITY_EVENTS]
    initial = TipPriority.URGENT if tip.there_now else TipPriority.NORMAL
    if details.get("possible_flood"):
        initial = TipPriority.LOW
    expected = priorities[-1] if priorities else initial.value
    if tip.priority.value != expected:
        return bad(f"its priority is {tip.priority.value} but its events say {expected}.")
    return None
