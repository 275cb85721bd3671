"""Notice photos: uploads re-encoded from pixels into display and thumbnail variants, stored
in the database, and served only while the notice is public."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import media
from tipline.auth.models import StaffUser
from tipline.notices.models import PUBLIC_STATUSES, Notice, NoticePhoto
from tipline.notices.services import (
    NOTICE_WRITERS,
    NoticeRefused,
    check_editable,
    record_change,
    require_role,
)

#: Longest side in pixels of each stored variant.
PHOTO_SIZES = {"display": 1200, "thumb": 320}


def add_photo(
    session: Session,
    notice: Notice,
    raw: bytes,
    alt_text: str,
    actor: StaffUser | str,
    caption: str = "",
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
) -> NoticePhoto:
    """Re-encode an uploaded photo from its pixels and attach it to the notice.

    Raises ``media.ImageRejected`` (with a message for the PIO) for anything that is not a
    JPEG, PNG or WebP image within the limits.
    """
    require_role(actor, NOTICE_WRITERS, "change notice photos")
    check_editable(notice)
    if not alt_text.strip():
        raise NoticeRefused("Describe the photo in a few words for people who cannot see it.")
    variants = media.reencode(raw, max_bytes=max_bytes, max_pixels=max_pixels, sizes=PHOTO_SIZES)
    display, thumb = variants["display"], variants["thumb"]
    photo = NoticePhoto(
        position=max((p.position for p in notice.photos), default=-1) + 1,
        alt_text=alt_text.strip(),
        caption=caption.strip(),
        mime=display.mime,
        display_data=display.data,
        display_width=display.width,
        display_height=display.height,
        thumb_data=thumb.data,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
    )
    notice.photos.append(photo)
    session.flush()
    record_change(session, notice, actor, ["photos"])
    return photo


def remove_photo(session: Session, notice: Notice, photo_id: int, actor: StaffUser | str) -> None:
    """Take a photo off the notice (and out of the database)."""
    require_role(actor, NOTICE_WRITERS, "change notice photos")
    check_editable(notice)
    photo = next((p for p in notice.photos if p.id == photo_id), None)
    if photo is None:
        raise NoticeRefused("That photo is not on this notice.")
    notice.photos.remove(photo)
    session.flush()
    record_change(session, notice, actor, ["photos"])


def photo_bytes(
    session: Session, notice_id: int, photo_id: int, variant: str, public_only: bool
) -> tuple[bytes, str] | None:
    """The bytes and MIME type of one variant of a photo, or None.

    With ``public_only`` the photo is found only while its notice is public and its details
    have not been removed.
    """
    column = {"display": NoticePhoto.display_data, "thumb": NoticePhoto.thumb_data}.get(variant)
    if column is None:
        return None
    query = (
        select(column, NoticePhoto.mime)
        .join(Notice, Notice.id == NoticePhoto.notice_id)
        .where(NoticePhoto.id == photo_id, Notice.id == notice_id)
    )
    if public_only:
        query = query.where(Notice.status.in_(PUBLIC_STATUSES), Notice.details_removed_at.is_(None))
    row = session.execute(query).first()
    return (row[0], row[1]) if row else None


def public_photo(
    session: Session, slug: str, photo_id: int, variant: str
) -> tuple[bytes, str] | None:
    """A photo variant the public may fetch (see ``photo_bytes``), by notice slug."""
    notice_id = session.scalar(select(Notice.id).where(Notice.slug == slug))
    if notice_id is None:
        return None
    return photo_bytes(session, notice_id, photo_id, variant, public_only=True)
