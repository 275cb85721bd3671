"""The receipt dialog: a detective asks, the tipster (known only by a receipt code) answers
and adds photos, and a short receipt session ties the two visits together."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips import attachments, integrity
from tipline.tips.attachments import PhotoLimits
from tipline.tips.models import MessageDirection, ReceiptSession, Tip, TipAttachment, TipMessage
from tipline.tips.services import clean_text, find_by_receipt
from tipline.triage.services import TIP_READERS, NotAllowed

MAX_MESSAGE_CHARS = 10_000


def _require_reader(staff: StaffUser) -> None:
    if staff.role not in TIP_READERS or not staff.active:
        raise NotAllowed(f"{staff.role.value} may not work tips")


def ask_tipster(session: Session, tip: Tip, staff: StaffUser, body: str) -> TipMessage:
    """Send the tipster a question; they read it on /receipt with their code."""
    _require_reader(staff)
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


class DialogClosed(ValueError):
    """A phone tip's dialog is not open on the receipt page (see ``Tip.dialog_open``)."""


def answer(
    session: Session,
    tip: Tip,
    body: str,
    *,
    photos: Sequence[bytes] = (),
    data_key: bytes | str | None = None,
    photo_limits: PhotoLimits = PhotoLimits(),  # noqa: B008 - frozen, shared safely
) -> TipMessage:
    """Record the tipster's answer and any photos they add (PhotoRejected before any write)."""
    if not tip.dialog_open:
        raise DialogClosed("Questions about this tip are asked by phone.")
    text = clean_text(body)
    images = attachments.clean_photos(photos, photo_limits)
    if not text and not images:
        raise ValueError("Please write an answer or choose a photo to send.")
    message = TipMessage(
        tip_id=tip.id, direction=MessageDirection.FROM_TIPSTER, body=text[:MAX_MESSAGE_CHARS]
    )
    session.add(message)
    session.flush()
    stored = attachments.store_photos(session, tip, images, data_key, message=message)
    audit.record(
        session,
        audit.PUBLIC,
        "tip.answered",
        "tip",
        tip.public_ref,
        message=message.id,
        photos=len(images),
        **integrity.answer_details(message, stored),
    )
    return message


def messages_for(session: Session, tip: Tip) -> list[TipMessage]:
    """The dialog, oldest first."""
    return list(
        session.scalars(
            select(TipMessage).where(TipMessage.tip_id == tip.id).order_by(TipMessage.id)
        )
    )


def photo_for_staff(
    session: Session, staff: StaffUser, tip_ref: str, photo_ref: str, data_key: bytes | str | None
) -> tuple[TipAttachment, bytes] | None:
    """Open one photo for a detective or supervisor, recording that they did."""
    _require_reader(staff)
    found = session.execute(
        select(Tip, TipAttachment)
        .join(TipAttachment, TipAttachment.tip_id == Tip.id)
        .where(Tip.public_ref == tip_ref, TipAttachment.public_ref == photo_ref)
    ).first()
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
    _require_reader(staff)
    if tip.spam_marked_at is None:
        tip.spam_marked_at = utcnow()
        session.flush()
        audit.record(session, staff, "tip.marked_spam", "tip", tip.public_ref)


# Receipt sessions ---------------------------------------------------------------------------


def _session_hash(receipt_key: bytes, token: str) -> bytes:
    return hmac.new(receipt_key, b"receipt-session:" + token.encode(), hashlib.sha256).digest()


def open_receipt(
    session: Session, receipt_key: bytes, typed_code: str, minutes: int
) -> tuple[str, Tip] | None:
    """Start a receipt session for a right code: returns a token for the cookie and the tip.

    Any wrong code, well-formed or not, costs the same work and returns None.
    """
    tip = find_by_receipt(session, receipt_key, typed_code)
    if tip is None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        ReceiptSession(
            token_hash=_session_hash(receipt_key, token),
            tip_id=tip.id,
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
    )
    session.flush()
    audit.record(session, audit.PUBLIC, "tip.receipt_opened", "tip", tip.public_ref)
    return token, tip


def receipt_tip(session: Session, receipt_key: bytes, token: str | None) -> Tip | None:
    """The tip of a live receipt session, or None when there is none or it has expired."""
    if not token:
        return None
    row = session.scalar(
        select(ReceiptSession).where(ReceiptSession.token_hash == _session_hash(receipt_key, token))
    )
    if row is None or row.expires_at <= utcnow():
        return None
    return session.get(Tip, row.tip_id)


def leave_receipt(session: Session, receipt_key: bytes, token: str | None) -> None:
    """End a receipt session (and sweep expired ones): the token opens nothing after this."""
    conditions = [ReceiptSession.expires_at <= utcnow()]
    if token:
        conditions.append(ReceiptSession.token_hash == _session_hash(receipt_key, token))
    session.execute(delete(ReceiptSession).where(or_(*conditions)))
    session.flush()


def tip_for_work(session: Session, staff: StaffUser, public_ref: str) -> Tip | None:
    """A tip a detective or supervisor is acting on (the page view is audited elsewhere)."""
    _require_reader(staff)
    return session.scalar(select(Tip).where(Tip.public_ref == public_ref))
