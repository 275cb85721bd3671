"""What the public page, the gallery, the Atom feed, the API and the CAP message say after
each step of the two-person resolution and of its correction."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from lxml import etree

from tipline.notices import changes
from tipline.notices.models import Resolution

from .test_cap import XSD, assert_valid_cap, text

ATOM = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def outputs(client, slug: str) -> dict[str, object]:
    page = client.get(f"/notices/{slug}").get_data(as_text=True)
    og = re.search(r'<meta property="og:description" content="([^"]*)">', page)
    feed = etree.fromstring(client.get("/notices.atom").data)
    summaries = [e.findtext("a:summary", namespaces=ATOM) for e in feed.findall("a:entry", ATOM)]
    return {
        "page": page,
        "og": html.unescape(og.group(1)),
        "summary": summaries[0] if summaries else None,
        "gallery": client.get("/").get_data(as_text=True),
        "api": client.get(f"/api/v1/notices/{slug}").get_json(),
        "tip": client.get(f"/notices/{slug}/tip").status_code,
        "cap": client.get(f"/notices/{slug}.cap.xml").data,
    }


def test_pages_and_feeds_after_each_step_of_resolution_and_correction(
    client, session, published_notice, cap_schema
):
    slug = published_notice.slug
    today = date.today()

    # 1. Asked for, not yet approved: nothing public changes.
    change = changes.request_resolution(
        session, published_notice, "sup-1", Resolution.ARRESTED, today
    )
    session.commit()
    out = outputs(client, slug)
    assert "resolution-banner" not in out["page"] and "Send a tip online" in out["page"]
    assert "Do not approach" in out["og"] and "Do not approach" in out["summary"]
    assert out["api"]["status"] == "published" and out["tip"] == 200
    assert text(assert_valid_cap(cap_schema, out["cap"]), "cap:msgType") == "Alert"

    # 2. Approved by a second person: resolved everywhere, the caution gone.
    changes.approve_change(session, published_notice, change.id, "pio-2")
    session.commit()
    out = outputs(client, slug)
    assert "resolution-banner" in out["page"] and "Send a tip online" not in out["page"]
    assert "Caution:" not in out["page"]
    for said in (out["og"], out["summary"]):
        assert said.startswith(f"Arrested on {today.isoformat()}. No longer sought")
        assert "Do not approach" not in said
    assert out["api"]["status"] == "resolved" and out["api"]["caution"] == ""
    assert out["api"]["resolution"] == f"Arrested on {today.isoformat()}"
    assert out["tip"] == 404
    assert slug not in out["gallery"]
    cancel = assert_valid_cap(cap_schema, out["cap"])
    assert text(cancel, "cap:msgType") == "Cancel"

    # 3. Correction asked for: still resolved.
    fix = changes.request_correction(session, published_notice, "sup-1", "Wrong person.")
    session.commit()
    assert outputs(client, slug)["api"]["status"] == "resolved"

    # 4. Correction approved: wanted again, and every output says it was corrected.
    changes.approve_change(session, published_notice, fix.id, "pio-2")
    session.commit()
    out = outputs(client, slug)
    assert "correction-banner" in out["page"] and "wrongly marked as resolved" in out["page"]
    assert "Send a tip online" in out["page"] and "Do not approach" in out["page"]
    assert out["summary"].startswith("Correction: This notice said “Arrested on")
    assert "Do not approach" in out["summary"]
    assert out["api"]["status"] == "published" and out["api"]["resolution"] == ""
    assert out["api"]["correction"].endswith("is still wanted.")
    assert out["tip"] == 200 and slug in out["gallery"]
    update = assert_valid_cap(cap_schema, out["cap"])
    assert text(update, "cap:msgType") == "Update"
    assert "sent in error" in text(update, "cap:note")
    refs = text(update, "cap:references").split(" ")
    assert text(cancel, "cap:identifier") in refs[-1]
