"""The Atom 1.0 (RFC 4287) feed of public notices, built from ``notice_document()``s.

Written with lxml rather than a feed library: feedgen 1.0 drops the ``rel`` and ``type`` of
entry links, which makes an entry with several alternate links invalid Atom.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

from tipline.notices.cap import xml_text
from tipline.notices.feeds import summary_text

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        element.text = xml_text(text)
    return element


def _time(moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def render_feed(
    documents: list[dict[str, Any]],
    *,
    feed_url: str,
    site_url: str,
    title: str,
    author: str,
    updated: datetime,
) -> bytes:
    """The feed, one entry per document in the order given (newest first)."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    _el(feed, "id", feed_url)
    _el(feed, "title", title)
    _el(feed, "subtitle", "People wanted on a warrant, and notices that have been resolved.")
    _el(feed, "updated", _time(updated))
    _el(_el(feed, "author"), "name", author)
    _el(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _el(feed, "link", rel="alternate", type="text/html", href=site_url)
    for doc in documents:
        entry = _el(feed, "entry")
        _el(entry, "id", doc["url"])  # a notice's URL never changes, so it is its id
        _el(entry, "title", doc["title"])
        _el(entry, "updated", _time(doc["updated_at"]))
        if doc["published_at"]:
            _el(entry, "published", _time(doc["published_at"]))
        _el(entry, "link", rel="alternate", type="text/html", href=doc["url"])
        _el(entry, "link", rel="alternate", type="application/json", href=doc["links"]["api"])
        _el(entry, "link", rel="related", type="application/cap+xml", href=doc["links"]["cap"])
        image = doc.get("image")
        if image:
            _el(
                entry,
                "link",
                rel="enclosure",
                type=image["mime"],
                length=str(image["size"]),
                href=doc["links"]["share_image"],
            )
        _el(entry, "summary", summary_text(doc), type="text")
        for charge in doc["charges"]:
            _el(entry, "category", term=charge["severity"], label=xml_text(charge["description"]))
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
