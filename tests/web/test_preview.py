"""The author and the approver see the public page, the poster and the share image exactly as
they will appear before anything is public; the approval comes after the content and is not
offered to whoever wrote or proposed it."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from tipline.auth.models import Role
from tipline.notices import changes
from tipline.notices.models import Notice, NoticeStatus, Resolution

from .conftest import staff_client
from .test_pio import _upload, create_through_form, post_button


@pytest.fixture
def author(pio_client):
    """The PIO who writes the notices here."""
    return pio_client


def test_a_notice_in_review_is_previewed_then_approved_after_its_content(
    app, client, session, author, make_staff, agency_lines
):
    url = create_through_form(author, agency_lines)
    _upload(author, url, _jpeg())
    post_button(author, url, f"{url}/submit")

    # The author sees the preview, without an approval.
    page = author.get(f"{url}/preview").get_data(as_text=True)
    assert "Preview — not public yet" in page and "Jordan Q. Example" in page
    assert "Armed robbery" in page and "Approve and publish" not in page
    assert "another PIO or a supervisor must approve it" in page
    assert "then approve" not in author.get(url).get_data(as_text=True)

    other = staff_client(app, make_staff, Role.PIO, "pio-bob")
    page = other.get(f"{url}/preview").get_data(as_text=True)
    assert page.index("Armed robbery") < page.index("Approve and publish")
    assert page.index("Seen this person? Call") < page.index("Approve and publish")
    photo_src = f"{url}/photos/"
    assert photo_src in page  # the photo, served to staff while nothing is public

    poster = other.get(f"{url}/preview/poster.pdf")
    assert poster.status_code == 200 and poster.content_type == "application/pdf"
    reader = PdfReader(BytesIO(poster.data))
    assert len(reader.pages) == 1 and "Jordan Q. Example" in reader.pages[0].extract_text()
    assert len(reader.pages[0].images) == 2  # the photo and the QR code
    share = other.get(f"{url}/preview/share.png")
    assert Image.open(BytesIO(share.data)).size == (1200, 630)

    # Nothing of it is public yet.
    slug = session.scalar(select(Notice.slug))
    assert client.get(f"/notices/{slug}").status_code == 404
    assert client.get(f"/notices/{slug}/share.png").status_code == 404

    assert post_button(other, f"{url}/preview", f"{url}/approve").status_code == 303
    assert client.get(f"/notices/{slug}").status_code == 200


def test_a_pending_resolution_is_previewed_as_the_resolved_page(
    app, session, author, make_staff, published_notice
):
    change = changes.request_resolution(
        session, published_notice, "sup-1", Resolution.SURRENDERED, date.today()
    )
    session.commit()
    url = f"/staff/notices/{published_notice.id}"
    page = author.get(f"{url}/preview?change={change.id}").get_data(as_text=True)
    assert "resolution-banner" in page and "Send a tip online" not in page
    assert "Caution:" not in page
    assert page.index("Was wanted on a warrant for") < page.index("Approve and publish")
    assert author.get(f"{url}/preview/poster.pdf?change={change.id}").status_code == 404
    share = author.get(f"{url}/preview/share.png?change={change.id}")
    assert Image.open(BytesIO(share.data)).size == (1200, 630)
    session.rollback()
    assert session.get(Notice, published_notice.id).status is NoticeStatus.PUBLISHED


def test_nothing_waiting_means_nothing_to_preview(author, published_notice):
    url = f"/staff/notices/{published_notice.id}"
    assert author.get(f"{url}/preview").status_code == 404
    assert author.get(f"{url}/preview?change=999").status_code == 404


def _jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (600, 800), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()
