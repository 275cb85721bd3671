"""Public outputs of notices besides their pages: the Atom feed, CAP messages, posters.

Each builds ``notice_document()`` (through ``links.documents``) and formats it; a notice that
is not public is not found here either.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, abort, current_app, make_response, redirect, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from tipline import db
from tipline.db import utcnow
from tipline.notices import atom as atom_feed
from tipline.notices import cap, change_stamps, feeds, photos, poster, share_image
from tipline.notices.models import Notice, NoticeStatus
from tipline.web import caching
from tipline.web.links import document, documents, external_url, public_host

bp = Blueprint("feeds", __name__)

FEED_SIZE = 50


def _public_or_404(slug: str) -> Notice:
    found = feeds.public_notice(db.session(), slug)
    if found is None:
        abort(404)
    return found


def display_photo(session: Session, notice: Notice) -> bytes | None:
    """The bytes of the notice's first public photo (display size), or None."""
    first = next(iter(notice.public_photos), None)
    if first is None or notice.details_removed_at is not None:
        return None
    found = photos.photo_bytes(session, notice.id, first.id, "display", public_only=True)
    return found[0] if found else None


def share_png(session: Session, notice: Notice, doc: dict[str, Any] | None = None) -> bytes:
    """The notice's share image as the public gets it."""
    return share_image.render_share_image(
        doc or document(session, notice),
        display_photo(session, notice),
        current_app.config["AGENCY_NAME"],
    )


def image_facts(png: bytes) -> dict[str, Any]:
    """Size and digests of the share image, for the Atom enclosure and the CAP resource."""
    return {
        "mime": share_image.MIME,
        "size": len(png),
        "sha1": hashlib.sha1(png, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(png).hexdigest(),
    }


@bp.get("/notices/<slug>/share.png")
@caching.public_page(change_stamps.notice_version)
def share_image_png(slug: str) -> Response:
    """The 1200×630 picture shown beside a shared link (``og:image``)."""
    found = _public_or_404(slug)
    return make_response(share_png(db.session(), found), 200, {"Content-Type": share_image.MIME})


@bp.get("/n/<int:notice_id>")
def short_link(notice_id: int) -> Response:
    """The short address printed on posters: the tip form of a published notice, else its
    page while it is public."""
    found = feeds.public_notice_by_id(db.session(), notice_id)
    if found is None:
        abort(404)
    if found.status is NoticeStatus.PUBLISHED:
        return redirect(url_for("public.notice_tip", slug=found.slug), code=302)
    return redirect(url_for("public.notice", slug=found.slug), code=302)


@bp.get("/notices.atom")
def atom() -> Response:
    session = db.session()
    found = feeds.public_notices(session, limit=FEED_SIZE)
    agency = current_app.config["AGENCY_NAME"]
    docs = documents(session, found)
    for notice, doc in zip(found, docs, strict=True):
        doc["image"] = image_facts(share_png(session, notice, doc))
    body = atom_feed.render_feed(
        docs,
        feed_url=external_url("feeds.atom"),
        site_url=external_url("public.gallery"),
        title=f"{agency}: wanted notices",
        author=agency,
        updated=max((n.updated_at for n in found), default=None) or utcnow(),
    )
    return make_response(body, 200, {"Content-Type": atom_feed.CONTENT_TYPE})


@bp.get("/notices/<slug>.cap.xml")
def cap_message(slug: str) -> Response:
    """The notice's latest CAP message, which references every one before it."""
    session = db.session()
    found = _public_or_404(slug)
    history = cap.message_history(session, found)
    if not history:
        abort(404)
    doc = document(session, found)
    doc["image"] = image_facts(share_png(session, found, doc))
    body = cap.render_message(
        history,
        len(history) - 1,
        doc,
        sender=cap.sender_id(public_host()),
        agency_name=current_app.config["AGENCY_NAME"],
    )
    return make_response(body, 200, {"Content-Type": cap.CONTENT_TYPE})


@bp.get("/notices/<slug>/poster.pdf")
def poster_pdf(slug: str) -> Response:
    found = _public_or_404(slug)
    if found.status is not NoticeStatus.PUBLISHED:
        abort(404)  # a resolved notice is not reprinted: a stale poster brings false alarms
    session = db.session()
    body = poster.render_poster(
        document(session, found),
        current_app.config["AGENCY_NAME"],
        current_app.config["EMERGENCY_NUMBER"],
        photo=display_photo(session, found),
    )
    return make_response(
        body,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="wanted-{found.slug}.pdf"',
        },
    )


@bp.app_template_global()
def notice_share(notice: Notice) -> dict[str, Any]:
    """What the notice page needs for its share tags, JSON-LD and output links."""
    doc = document(db.session(), notice)
    agency = current_app.config["AGENCY_NAME"]
    return {
        "document": doc,
        "json_ld": feeds.json_ld(doc, agency),
        "summary": feeds.summary_text(doc),
        "feed": external_url("feeds.atom"),
        "image": {
            "url": doc["links"]["share_image"],
            "type": share_image.MIME,
            "width": share_image.WIDTH,
            "height": share_image.HEIGHT,
            "alt": share_image.alt_text(doc, agency),
        },
    }
