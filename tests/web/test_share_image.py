"""Every notice has a face when shared: a 1200x630 share image drawn on the server, named by
og:image (with width, height and alt) and the large Twitter card, enclosed in the Atom entry
and listed as a CAP resource with its size and digest."""

from __future__ import annotations

import hashlib
import html
import re
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from lxml import etree
from PIL import Image

from tipline.demo import DEMO_NOTICE
from tipline.notices import photos
from tipline.notices import services as notices

from ..conftest import approve_pending_edit, resolve_notice
from ..unit.test_media import jpeg_with_gps
from .test_cap import NS, XSD, assert_valid_cap

ATOM = {"a": "http://www.w3.org/2005/Atom"}


def meta(page: str, attr: str, name: str) -> str:
    match = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', page)
    assert match, name
    return html.unescape(match.group(1))


def share_image_of(client, slug: str) -> tuple[str, Image.Image, bytes, dict]:
    page = client.get(f"/notices/{slug}").get_data(as_text=True)
    url = meta(page, "property", "og:image")
    response = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert response.status_code == 200
    assert response.content_type == "image/png"
    image = Image.open(BytesIO(response.data))
    return page, image, response.data, dict(response.headers)


def test_a_notice_without_a_photo_has_a_text_share_image_named_by_og_image(
    client, published_notice
):
    page, image, _, headers = share_image_of(client, published_notice.slug)
    assert image.format == "PNG" and image.size == (1200, 630)
    assert meta(page, "property", "og:image:width") == "1200"
    assert meta(page, "property", "og:image:height") == "630"
    assert meta(page, "property", "og:image:type") == "image/png"
    alt = meta(page, "property", "og:image:alt")
    assert alt.startswith("Wanted: Alexis Jane Doe.") and "504-822-1111" in alt
    assert meta(page, "name", "twitter:card") == "summary_large_image"
    assert meta(page, "name", "twitter:image") == meta(page, "property", "og:image")
    assert "public" in headers["Cache-Control"] and "ETag" in headers
    # Text across the whole width: the left edge is the red headline band, not a photo.
    assert image.convert("RGB").getpixel((5, 50)) == (176, 0, 32)


def test_a_notice_with_a_photo_shows_it_and_the_image_changes_with_the_notice(
    client, session, published_notice
):
    _, before, _, _ = share_image_of(client, published_notice.slug)
    photos.add_photo(session, published_notice, jpeg_with_gps((600, 800)), "Front", "test-pio")
    session.commit()
    _, waiting, _, _ = share_image_of(client, published_notice.slug)
    assert waiting.tobytes() == before.tobytes()  # a photo waiting for approval is not shown
    approve_pending_edit(session, published_notice)
    session.commit()
    _, with_photo, _, _ = share_image_of(client, published_notice.slug)
    assert with_photo.size == (1200, 630)
    red, green, blue = with_photo.convert("RGB").getpixel((200, 300))
    assert red > 150 and green < 80 and blue < 80  # the photo (a red test picture)

    resolve_notice(session, published_notice)
    session.commit()
    page, resolved, _, _ = share_image_of(client, published_notice.slug)
    assert resolved.tobytes() != with_photo.tobytes()
    assert meta(page, "property", "og:image:alt").startswith("Resolved: Alexis Jane Doe.")
    assert "Do not approach" not in meta(page, "property", "og:description")
    # The photo turns grey once the person is no longer sought.
    r, g, b = resolved.convert("RGB").getpixel((200, 300))
    assert r == g == b


def test_share_image_of_a_draft_is_not_found(client, session):
    draft = notices.create_notice(session, DEMO_NOTICE, "test-pio")
    session.commit()
    assert client.get(f"/notices/{draft.slug}/share.png").status_code == 404
    assert client.get(f"/n/{draft.id}").status_code == 404


def test_atom_entries_enclose_the_share_image_with_its_length(client, published_notice):
    feed = etree.fromstring(client.get("/notices.atom").data)
    (enclosure,) = feed.findall("a:entry/a:link[@rel='enclosure']", ATOM)
    assert enclosure.get("type") == "image/png"
    href = urlsplit(enclosure.get("href"))
    body = client.get(f"{href.path}?{href.query}").data
    assert int(enclosure.get("length")) == len(body)


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def test_cap_lists_the_share_image_as_a_resource_with_size_and_digest(
    client, published_notice, cap_schema
):
    root = assert_valid_cap(
        cap_schema, client.get(f"/notices/{published_notice.slug}.cap.xml").data
    )
    resource = root.find("cap:info/cap:resource", NS)
    assert resource.findtext("cap:mimeType", namespaces=NS) == "image/png"
    uri = urlsplit(resource.findtext("cap:uri", namespaces=NS))
    body = client.get(f"{uri.path}?{uri.query}").data
    assert int(resource.findtext("cap:size", namespaces=NS)) == len(body)
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()
    assert resource.findtext("cap:digest", namespaces=NS) == digest
