"""The tipster's side of the receipt dialog: the tipster (known only by a receipt code) reads
the questions, answers and adds photos, and a short receipt session ties the visits together.
The staff side (asking, photos for staff, spam) is ``tipline.triage.dialog``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.db import utcnow
from tipline.tips import attachments, integrity
from tipline.tips.attachments import PhotoLimits
from tipline.tips.models import MessageDirection, ReceiptSession, Tip, TipMessage
from tipline.tips.services import clean_text, find_by_receipt

MAX_MESSAGE_CHARS = 10_000


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
