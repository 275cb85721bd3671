"""Notice photos: uploads re-encoded from pixels into display and thumbnail variants, stored
in the database, and served only while the notice is public."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import media
from tipline.auth.models import StaffUser
from tipline.notices.models import PUBLIC_STATUSES, Notice, NoticeChange, NoticePhoto
from tipline.notices.services import (
    NOTICE_WRITERS,
    NoticeRefused,
    changed_fields,
    check_editable,
    draft_from_json,
    pending_edit,
    proposed_change,
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
        # On a public notice the photo waits, hidden, for a second person's approval.
        approved=not notice.is_public,
    )
    notice.photos.append(photo)
    session.flush()
    if notice.is_public:
        change = pending_edit(session, notice, actor)
        change.proposal = {
            **change.proposal,
            "add_photos": [*change.proposal.get("add_photos", []), photo.id],
        }
        _refresh_fields(notice, change)
        proposed_change(session, notice, change, actor)
    else:
        record_change(session, notice, actor, ["photos"])
    return photo


def _refresh_fields(notice: Notice, change: NoticeChange) -> None:
    record = changed_fields(notice, draft_from_json(change.proposal["record"]))
    photos = change.proposal.get("add_photos") or change.proposal.get("remove_photos")
    change.fields = sorted(set(record) | ({"photos"} if photos else set()))


def remove_photo(session: Session, notice: Notice, photo_id: int, actor: StaffUser | str) -> None:
    """Take a photo off the notice (and out of the database). On a public notice the removal
    of a live photo waits for a second person; a photo still waiting goes at once."""
    require_role(actor, NOTICE_WRITERS, "change notice photos")
    check_editable(notice)
    photo = next((p for p in notice.photos if p.id == photo_id), None)
    if photo is None:
        raise NoticeRefused("That photo is not on this notice.")
    if not notice.is_public:
        notice.photos.remove(photo)
        session.flush()
        record_change(session, notice, actor, ["photos"])
        return
    change = pending_edit(session, notice, actor)
    added = change.proposal.get("add_photos", [])
    removed = change.proposal.get("remove_photos", [])
    if photo.id in added:
        notice.photos.remove(photo)
        added = [i for i in added if i != photo.id]
    elif photo.id not in removed:
        removed = [*removed, photo.id]
    change.proposal = {**change.proposal, "add_photos": added, "remove_photos": removed}
    _refresh_fields(notice, change)
    proposed_change(session, notice, change, actor)


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
        query = query.where(
            Notice.status.in_(PUBLIC_STATUSES),
            Notice.details_removed_at.is_(None),
            NoticePhoto.approved.is_(True),
        )
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
