"""What a tipster sent, committed to the audit log, and the check that it is still there.

``tip.received`` carries a SHA-256 over the tip's submitted fields (narrative and every
other field, the sealed contact details, the receipt hash, the notice and the operator) and
one digest per photo; each later answer carries the digest of its text and its photos; each
note the digest of its text. ``verify_tips`` (run by `tipline audit verify` after the chain
walk) recomputes them from the stored rows and names the first difference, a closed tip
without its closing event, a priority without its event, and a missing answer, photo or
note. The chain makes the events themselves tamper-evident, so a rewritten tip cannot be
matched by rewriting its event.

Photos are digested as stored (the sealed bytes): the check needs no data key, and a change
to the ciphertext is a change.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit.models import AuditEvent
from tipline.tips.models import MessageDirection, Tip, TipAttachment, TipMessage, TipPriority

#: The tip's columns that hold what was submitted (staff never change them; retention empties
#: them and says so in ``tip.purged``).
SUBMITTED_COLUMNS = (
    "public_ref",
    "notice_id",
    "operator_id",
    "seen_when",
    "seen_where",
    "narrative",
    "there_now",
    "landmark",
    "activity",
    "companions",
    "vehicle_make",
    "vehicle_colour",
    "vehicle_plate",
    "direction",
    "how_known",
)


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _bytes_digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def photo_digest(attachment: TipAttachment) -> str:
    return _digest(
        {
            "ref": attachment.public_ref,
            "mime": attachment.mime,
            "size": [attachment.width, attachment.height, attachment.byte_size],
            "sealed": _bytes_digest(attachment.sealed),
        }
    )


def tip_digest(tip: Tip) -> str:
    """The digest of what the tip's form carried (not its photos: see ``photo_digest``)."""
    fields = {name: getattr(tip, name) for name in SUBMITTED_COLUMNS}
    fields["there_now"] = bool(fields["there_now"])
    fields["contact_sealed"] = _bytes_digest(tip.contact_sealed)
    fields["receipt_hash"] = _bytes_digest(tip.receipt_hash)
    return _digest(fields)


def text_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def received_details(tip: Tip, photos: Iterable[TipAttachment]) -> dict[str, object]:
    """What ``tip.received`` commits to."""
    return {"content": tip_digest(tip), "photo_digests": [photo_digest(p) for p in photos]}


def answer_details(message: TipMessage, photos: Iterable[TipAttachment]) -> dict[str, object]:
    """What ``tip.answered`` commits to."""
    return {
        "content": text_digest(message.body),
        "photo_digests": [photo_digest(p) for p in photos],
    }


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
    from tipline.triage.models import TipNote  # the notes' model lives with triage

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
    if not purged and "content" in details and details["content"] != tip_digest(tip):
        return bad("what is stored differs from what was received (the tip was rewritten).")
    for event in trail:
        if event.action == "tip.answered":
            message = messages.get(event.details.get("message"))
            if message is None:
                return bad(f"answer {event.details.get('message')} is missing (deleted).")
            content = event.details.get("content")
            if not purged and content is not None and content != text_digest(message.body):
                return bad(f"answer {message.id} differs from what was received.")
        if event.action == "tip.note_added":
            note = notes.get(event.details.get("note_id"))
            if note is None:
                return bad(f"note {event.details.get('note_id')} is missing (deleted).")
            content = event.details.get("content")
            if not purged and content is not None and content != text_digest(note.body):
                return bad(f"note {note.id} differs from what was written.")
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
