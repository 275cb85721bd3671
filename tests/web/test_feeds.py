"""The Atom feed, the notice page's share tags and links, and drafts staying out of every
output."""

from __future__ import annotations

import html
import json
import re

import feedparser
from lxml import etree

from tipline import audit
from tipline.demo import DEMO_NOTICE
from tipline.notices import services as notices
from tipline.notices.models import NoticeStatus

from ..conftest import publish_new_notice

ATOM = "{http://www.w3.org/2005/Atom}"


def publish(session, name: str, **fields):
    notice = publish_new_notice(session, subject_name=name, **fields)
    session.commit()
    return notice


def test_atom_feed_parses_as_atom_with_one_entry_per_public_notice(client, session):
    older = publish(session, "Older Person")
    newer = publish(session, "Newer Person")
    resolved = publish(session, "Resolved Person")
    resolved.status = NoticeStatus.RESOLVED
    session.commit()
    notices.create_notice(session, notices.NoticeDraft(subject_name="Draft Person"), "pio")
    session.commit()

    response = client.get("/notices.atom")
    assert response.status_code == 200
    assert response.content_type == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == [
        "Resolved: Resolved Person",
        "Wanted: Newer Person",
        "Wanted: Older Person",
    ]
    assert parsed.entries[2].link == f"http://localhost/notices/{older.slug}"
    assert parsed.entries[1].id == f"http://localhost/notices/{newer.slug}"
    assert all(e.updated_parsed for e in parsed.entries)
    assert parsed.feed.links[0].href == "http://localhost/notices.atom"
    assert "Draft Person" not in response.get_data(as_text=True)


def test_atom_feed_has_every_element_rfc_4287_requires(client, published_notice):
    root = etree.fromstring(client.get("/notices.atom").data)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert root.find(ATOM + required) is not None, required
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/notices.atom"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    for entry in entries:
        for required in ("id", "title", "updated", "summary"):
            assert (entry.findtext(ATOM + required) or "").strip(), required
        alternates = [
            (link.get("type"), link.get("hreflang"))
            for link in entry.findall(f"{ATOM}link[@rel='alternate']")
        ]
        assert len(alternates) == len(set(alternates))  # RFC 4287 4.1.1
        for link in entry.findall(f"{ATOM}link"):
            assert link.get("href").startswith("http://localhost/")
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", entry.findtext(f"{ATOM}updated")
        )


def test_feed_uses_public_base_url_behind_a_proxy(app, client, published_notice):
    app.config["PUBLIC_BASE_URL"] = "https://tips.example.org"
    parsed = feedparser.parse(client.get("/notices.atom").data)
    assert parsed.entries[0].link == f"https://tips.example.org/notices/{published_notice.slug}"


def test_empty_feed_is_still_valid_atom(client):
    parsed = feedparser.parse(client.get("/notices.atom").data)
    assert parsed.bozo == 0 and parsed.version == "atom10" and parsed.entries == []


def assert_in_no_output(client, slug: str, named: str) -> None:
    """The notice ``slug`` has no CAP alert, poster or API answer (404), and the Atom feed
    does not mention ``named``."""
    for url in [
        f"/notices/{slug}.cap.xml",
        f"/notices/{slug}/poster.pdf",
        f"/api/v1/notices/{slug}",
    ]:
        assert client.get(url).status_code == 404, url
    assert named not in client.get("/notices.atom").get_data(as_text=True)


def test_drafts_are_not_found_through_any_output(client, session):
    draft = notices.create_notice(session, DEMO_NOTICE, "pio")
    session.commit()
    assert_in_no_output(client, draft.slug, draft.slug)
    assert client.get("/api/v1/notices").get_json()["notices"] == []


def test_a_notice_taken_out_of_public_view_leaves_every_output(client, session):
    # Its audit trail still holds "published", but the status decides: only published and
    # resolved are public (the workflow's "in review" and "archived" are not).
    notice = publish(session, "Withdrawn Person")
    notice.status = NoticeStatus.DRAFT
    session.commit()
    assert_in_no_output(client, notice.slug, "Withdrawn Person")


def test_gallery_head_advertises_the_feed(client):
    page = client.get("/").get_data(as_text=True)
    head = page.split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml"' in head
    assert 'href="/notices.atom"' in head


def test_notice_page_links_to_poster_cap_feed_and_json(client, published_notice):
    page = client.get(f"/notices/{published_notice.slug}").get_data(as_text=True)
    slug = published_notice.slug
    for href in [f"/notices/{slug}/poster.pdf", f"/notices/{slug}.cap.xml", "/notices.atom"]:
        assert f'href="{href}"' in page, href
        assert client.get(href).status_code == 200, href


def test_resolved_notice_offers_no_poster(client, session, published_notice):
    published_notice.status = NoticeStatus.RESOLVED
    audit.record(session, "pio", "notice.resolved", "notice", published_notice.slug)
    session.commit()
    page = client.get(f"/notices/{published_notice.slug}").get_data(as_text=True)
    assert "poster.pdf" not in page
    assert client.get(f"/notices/{published_notice.slug}/poster.pdf").status_code == 404
    assert client.get(f"/notices/{published_notice.slug}.cap.xml").status_code == 200


def _meta(page: str, attr: str, name: str) -> str:
    match = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', page)
    assert match, name
    return html.unescape(match.group(1))


def _json_ld(page: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_notice_page_has_open_graph_twitter_and_json_ld(client, published_notice):
    page = client.get(f"/notices/{published_notice.slug}").get_data(as_text=True)
    url = f"http://localhost/notices/{published_notice.slug}"
    assert _meta(page, "property", "og:title") == "Wanted: Alexis Jane Doe"
    assert _meta(page, "property", "og:url") == url
    assert "504-822-1111" in _meta(page, "property", "og:description")
    assert _meta(page, "name", "twitter:card") == "summary_large_image"
    assert _meta(page, "name", "twitter:title") == "Wanted: Alexis Jane Doe"
    data = _json_ld(page)
    assert data["@type"] == "SpecialAnnouncement"
    assert data["about"] == {
        "@type": "Person",
        "name": "Alexis Jane Doe",
        "alternateName": ["A. J. Doe"],
    }
    assert data["url"] == url
    phones = [c["telephone"] for c in data["publisher"]["contactPoint"]]
    assert phones == ["504-658-6030", "504-822-1111"]


def test_json_ld_cannot_be_broken_out_of_by_text_a_pio_typed(client, session):
    hostile = 'Eve </script><script>alert(1)</script> "<!--'
    notice = publish(session, hostile, aliases=["</SCRIPT><img src=x onerror=alert(2)>"])
    page = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert page.count("</script>") == 1  # only the JSON-LD block's own end tag
    data = _json_ld(page)
    assert data["about"]["name"] == hostile
    assert data["about"]["alternateName"] == ["</SCRIPT><img src=x onerror=alert(2)>"]
    assert _meta(page, "property", "og:title") == f"Wanted: {hostile}"


def test_outputs_set_no_cookie_and_carry_the_security_headers(client, published_notice):
    slug = published_notice.slug
    for url in [
        "/notices.atom",
        f"/notices/{slug}.cap.xml",
        f"/notices/{slug}/poster.pdf",
        "/api/v1/notices",
        f"/api/v1/notices/{slug}",
        "/api/v1/openapi.json",
        "/api/v1/notices/nobody",
    ]:
        response = client.get(url)
        assert "Set-Cookie" not in response.headers, url
        assert "default-src 'self'" in response.headers["Content-Security-Policy"], url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
