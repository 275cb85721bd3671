"""Tip photos: rebuilt from pixels by tipline.media, sealed at rest, opened only for staff."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext, ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import media, sealing
from tipline.tips import receipts
from tipline.tips.models import Tip, TipAttachment, TipMessage


@dataclass(frozen=True)
class PhotoLimits:
    count: int = 3
    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 16_000_000
    max_side: int = 3000


class PhotoRejected(ValueError):
    """One of the photos cannot be accepted; ``str()`` is a message for the tipster."""


def clean_photos(raws: Sequence[bytes], limits: PhotoLimits) -> list[media.CleanImage]:
    """Check and rebuild every photo before anything is stored; PhotoRejected otherwise."""
    if len(raws) > limits.count:
        raise PhotoRejected(
            ngettext(
                "Please send at most %(num)d photo.",
                "Please send at most %(num)d photos.",
                limits.count,
            )
        )
    cleaned = []
    for position, raw in enumerate(raws, start=1):
        try:
            variants = media.reencode(
                raw, limits.max_bytes, limits.max_pixels, {"photo": limits.max_side}
            )
        except media.ImageRejected as error:
            problem = str(error)
            if len(raws) > 1:
                problem = gettext("Photo %(num)d: %(problem)s", num=position, problem=problem)
            raise PhotoRejected(problem) from None
        cleaned.append(variants["photo"])
    return cleaned


def _context(tip: Tip, ref: str) -> str:
    return f"tip-attachment:{tip.public_ref}:{ref}"


def store_photos(
    session: Session,
    tip: Tip,
    images: Sequence[media.CleanImage],
    data_key: bytes | str | None,
    message: TipMessage | None = None,
) -> list[TipAttachment]:
    """Seal clean images and attach them to ``tip`` (and to ``message`` when given)."""
    stored = []
    for image in images:
        ref = receipts.new_public_ref()
        attachment = TipAttachment(
            public_ref=ref,
            tip_id=tip.id,
            message_id=message.id if message is not None else None,
            mime=image.mime,
            width=image.width,
            height=image.height,
            byte_size=len(image.data),
            sealed=sealing.seal(data_key, image.data, _context(tip, ref)),
        )
        session.add(attachment)
        stored.append(attachment)
    session.flush()
    return stored


def attachments_for(session: Session, tip: Tip) -> list[TipAttachment]:
    return list(
        session.scalars(
            select(TipAttachment).where(TipAttachment.tip_id == tip.id).order_by(TipAttachment.id)
        )
    )


def open_photo(tip: Tip, attachment: TipAttachment, data_key: bytes | str | None) -> bytes:
    """The photo's bytes; SealBroken when the key is wrong or the bytes were changed."""
    return sealing.unseal(data_key, attachment.sealed, _context(tip, attachment.public_ref))
