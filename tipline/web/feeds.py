"""Public outputs of notices besides their pages: the Atom feed, CAP messages, posters.

Each builds ``notice_document()`` (through ``links.documents``) and formats it; a notice that
is not public is not found here either.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, make_response
from werkzeug.wrappers import Response

from tipline import db
from tipline.db import utcnow
from tipline.notices import atom as atom_feed
from tipline.notices import cap, feeds, poster
from tipline.notices.models import Notice, NoticeStatus
from tipline.web.links import document, documents, external_url, public_host

bp = Blueprint("feeds", __name__)

FEED_SIZE = 50


def _public_or_404(slug: str) -> Notice:
    found = feeds.public_notice(db.session(), slug)
    if found is None:
        abort(404)
    return found


@bp.get("/notices.atom")
def atom() -> Response:
    session = db.session()
    found = feeds.public_notices(session, limit=FEED_SIZE)
    agency = current_app.config["AGENCY_NAME"]
    body = atom_feed.render_feed(
        documents(session, found),
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
    body = cap.render_message(
        history,
        len(history) - 1,
        document(session, found),
        sender=cap.sender_id(public_host()),
        agency_name=current_app.config["AGENCY_NAME"],
    )
    return make_response(body, 200, {"Content-Type": cap.CONTENT_TYPE})


@bp.get("/notices/<slug>/poster.pdf")
def poster_pdf(slug: str) -> Response:
    found = _public_or_404(slug)
    if found.status is not NoticeStatus.PUBLISHED:
        abort(404)  # a resolved notice is not reprinted: a stale poster brings false alarms
    body = poster.render_poster(
        document(db.session(), found),
        current_app.config["AGENCY_NAME"],
        current_app.config["EMERGENCY_NUMBER"],
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
    return {
        "document": doc,
        "json_ld": feeds.json_ld(doc, current_app.config["AGENCY_NAME"]),
        "summary": feeds.summary_text(doc),
        "feed": external_url("feeds.atom"),
    }
