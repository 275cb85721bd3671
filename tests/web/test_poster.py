"""The printable poster: one page, both numbers, and a QR code that really leads to the tip
form (rendered with poppler, read back with zbar, both independent of how we drew it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from io import BytesIO

import pytest
from PIL import Image
from pypdf import PdfReader

from tipline.notices import photos
from tipline.notices import services as notices
from tipline.notices.models import Severity

from ..conftest import approve_pending_edit, publish_new_notice
from ..unit.test_media import jpeg_with_gps

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (apt: poppler-utils, zbar-tools)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def poster(client, slug: str) -> bytes:
    response = client.get(f"/notices/{slug}/poster.pdf")
    assert response.status_code == 200
    assert response.content_type == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    return response.data


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def decode_qr(data: bytes, tmp_path) -> list[str]:
    need_tools("pdftoppm", "zbarimg")
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(pdf), str(tmp_path / "page")], check=True)
    (image,) = sorted(tmp_path.glob("page*.png"))
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def test_poster_is_one_letter_page_with_charges_caution_reward_and_both_numbers(
    client, published_notice
):
    data = poster(client, published_notice.slug)
    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # US letter
    _, text = pdf_text(data)
    for expected in [
        "WANTED",
        "Alexis Jane Doe",
        "504-658-6030",
        "504-822-1111",
        "La. R.S. 14:134",
        "Malfeasance in office",
        "La. R.S. 14:338",
        "Do not approach",
        "cash reward",
        f"localhost/n/{published_notice.id}",
        "Anonymous. You do not have to give your name.",  # a contact line's note
    ]:
        assert expected in text, expected
    assert reader.trailer["/Root"]["/Lang"] == "en-US"


def test_poster_carries_the_photo_description_last_known_area_and_an_unbroken_short_link(
    client, session, tmp_path
):
    notice = publish_new_notice(
        session, last_known_area="Mid-City, near Canal Street", height="5 ft 6 in"
    )
    photos.add_photo(session, notice, jpeg_with_gps((900, 1200)), "Front view", "test-pio")
    approve_pending_edit(session, notice)
    session.commit()
    data = poster(client, notice.slug)
    pages, text = pdf_text(data)
    assert pages == 1
    assert "Last known area: Mid-City, near Canal Street" in text
    assert "Height: 5 ft 6 in" in text and "Also known as: A. J. Doe" in text
    # The short address is one line, never broken mid-word, and leads to the tip form.
    short = f"localhost/n/{notice.id}"
    assert short in text.splitlines()
    response = client.get(f"/n/{notice.id}")
    assert response.status_code == 302
    assert response.location.endswith(f"/notices/{notice.slug}/tip")
    images = PdfReader(BytesIO(data)).pages[0].images
    assert len(images) == 2  # the photo and the QR code
    sizes = sorted(Image.open(BytesIO(i.data)).size for i in images)
    assert (900, 1200) in sizes
    assert decode_qr(data, tmp_path) == [f"http://localhost/notices/{notice.slug}/tip"]


def test_a_poster_without_a_photo_has_only_the_qr_code(client, published_notice):
    images = PdfReader(BytesIO(poster(client, published_notice.slug))).pages[0].images
    assert len(images) == 1


def test_a_photo_waiting_for_approval_is_not_on_the_poster(client, session, published_notice):
    photos.add_photo(session, published_notice, jpeg_with_gps(), "Front view", "test-pio")
    session.commit()
    images = PdfReader(BytesIO(poster(client, published_notice.slug))).pages[0].images
    assert len(images) == 1


def test_poster_qr_code_leads_to_the_notice_tip_form(client, published_notice, tmp_path):
    data = poster(client, published_notice.slug)
    assert decode_qr(data, tmp_path) == [f"http://localhost/notices/{published_notice.slug}/tip"]


def test_poster_qr_code_uses_the_public_base_url(app, client, published_notice, tmp_path):
    app.config["PUBLIC_BASE_URL"] = "https://tips.example.org"
    data = poster(client, published_notice.slug)
    assert decode_qr(data, tmp_path) == [
        f"https://tips.example.org/notices/{published_notice.slug}/tip"
    ]


def test_spanish_and_vietnamese_names_print_with_their_accents(client, session):
    draft = notices.NoticeDraft(
        subject_name="Nguyễn Thị Ánh",
        aliases=["José Peña Muñoz"],
        caution="No se acerque. Đừng tiếp cận.",
        charges=[notices.ChargeDraft("La. R.S. 14:67", "Robo", Severity.FELONY)],
        contact_lines=[notices.ContactDraft("NOPD", "504-658-6030")],
    )
    notice = publish_new_notice(session, draft)
    session.commit()
    _, text = pdf_text(poster(client, notice.slug))
    for expected in ["Nguyễn Thị Ánh", "José Peña Muñoz", "Đừng tiếp cận"]:
        assert expected in text, expected


@pytest.mark.slow  # shrinks the type six times before it fits
def test_a_very_long_notice_still_fits_one_page(client, session, tmp_path):
    draft = notices.NoticeDraft(
        subject_name="Maximiliana Wilhelmina Bartholomew-Featherstonehaugh y Nguyễn",
        aliases=[f"Alias number {i}" for i in range(12)],
        caution="Do not approach. " * 60,
        reward_text="A reward may be paid. " * 80,
        charges=[
            notices.ChargeDraft(
                f"La. R.S. 14:{i}", "A long charge description " * 4, Severity.FELONY
            )
            for i in range(15)
        ],
        contact_lines=[notices.ContactDraft(f"Line {i}", f"504-555-01{i:02d}") for i in range(6)],
    )
    notice = publish_new_notice(session, draft)
    session.commit()
    data = poster(client, notice.slug)
    pages, text = pdf_text(data)
    assert pages == 1
    assert "504-555-0100" in text
    assert decode_qr(data, tmp_path) == [f"http://localhost/notices/{notice.slug}/tip"]
