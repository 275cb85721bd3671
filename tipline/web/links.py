"""Absolute URLs for what leaves the site (feeds, API, CAP, posters, share tags).

Behind a reverse proxy the request's own host may be an internal name; ``PUBLIC_BASE_URL``
(for example ``https://tips.example.org``), when set, is used instead.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for
from sqlalchemy.orm import Session

from tipline.notices import feeds
from tipline.notices import services as notices
from tipline.notices.models import ContactLine, Notice, NoticeStatus


def external_url(endpoint: str, **values: Any) -> str:
    """``url_for(..., _external=True)``, on ``PUBLIC_BASE_URL`` when that is set.

    Language-neutral: a page opened with ``?lang=`` does not pass it on to shared URLs."""
    values.setdefault("lang", None)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values)
    root = request.script_root if request else ""
    if root and path.startswith(root):
        path = path[len(root) :]
    return base.rstrip("/") + path


def public_host() -> str:
    """The host name the public reaches the site at."""
    return external_url("public.gallery").split("/")[2]


def notice_links(notice: Notice) -> feeds.NoticeLinks:
    live = notice.status is NoticeStatus.PUBLISHED
    return feeds.NoticeLinks(
        page=external_url("public.notice", slug=notice.slug),
        tip=external_url("public.notice_tip", slug=notice.slug) if live else None,
        poster=external_url("feeds.poster_pdf", slug=notice.slug) if live else None,
        cap=external_url("feeds.cap_message", slug=notice.slug),
        api=external_url("api.notice", slug=notice.slug),
        share_image=external_url(
            "feeds.share_image_png", slug=notice.slug, v=int(notice.updated_at.timestamp())
        ),
        short=external_url("feeds.short_link", notice_id=notice.id) if live else None,
    )


def documents(session: Session, found: list[Notice]) -> list[dict[str, Any]]:
    """``notice_document()`` for each notice, with agency lines where a notice has none."""
    defaults: list[ContactLine] = []
    currency = current_app.config["REWARD_CURRENCY"]
    if any(not n.contact_lines for n in found):
        defaults = notices.default_contact_lines(session)
    return [
        feeds.notice_document(n, feeds.contact_lines_of(n, defaults), notice_links(n), currency)
        for n in found
    ]


def document(session: Session, notice: Notice) -> dict[str, Any]:
    return documents(session, [notice])[0]
