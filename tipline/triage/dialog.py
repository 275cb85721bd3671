"""The staff side of the receipt dialog: a detective or supervisor who may see the tip asks the
tipster a question, opens their photos and marks spam. The tipster's side (answers, receipt
sessions) is ``tipline.tips.dialog``. Each function audits in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips import attachments
from tipline.tips.dialog import MAX_MESSAGE_CHARS
from tipline.tips.models import MessageDirection, Tip, TipAttachment, TipMessage
from tipline.tips.services import clean_text
from tipline.triage import access
from tipline.triage.access import require_reader


def tip_for_work(session: Session, staff: StaffUser, public_ref: str) -> Tip | None:
    """A tip a detective or supervisor is acting on (the page view is audited elsewhere);
    None when there is no such tip or ``staff`` may not see it."""
    require_reader(staff)
    return access.visible_tip(session, staff, public_ref)


def ask_tipster(session: Session, tip: Tip, staff: StaffUser, body: str) -> TipMessage:
    """Send the tipster a question; they read it on /receipt with their code."""
    require_reader(staff)
    text = clean_text(body)
    if not text:
        raise ValueError("A question needs some words.")
    message = TipMessage(
        tip_id=tip.id,
        direction=MessageDirection.TO_TIPSTER,
        body=text[:MAX_MESSAGE_CHARS],
        author_id=staff.id,
    )
    session.add(message)
    session.flush()
    audit.record(session, staff, "tip.question_sent", "tip", tip.public_ref, message=message.id)
    return message


def photo_for_staff(
    session: Session, staff: StaffUser, tip_ref: str, photo_ref: str, data_key: bytes | str | None
) -> tuple[TipAttachment, bytes] | None:
    """Open one photo for a detective or supervisor who may see its tip, recording that they
    did; None when there is no such photo or the tip is not theirs to see."""
    require_reader(staff)
    found = access.visible_photo(session, staff, tip_ref, photo_ref)
    if found is None:
        return None
    tip, attachment = found
    data = attachments.open_photo(tip, attachment, data_key)
    audit.record(
        session, staff, "tip.photo_viewed", "tip", tip.public_ref, photo=attachment.public_ref
    )
    return attachment, data


def mark_spam(session: Session, tip: Tip, staff: StaffUser) -> None:
    """Label a tip as spam. It stays in place, readable and audited: nothing is deleted."""
    require_reader(staff)
    if tip.spam_marked_at is None:
        tip.spam_marked_at = utcnow()
        session.flush()
        audit.record(session, staff, "tip.marked_spam", "tip", tip.public_ref)
