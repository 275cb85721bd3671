"""Publishing as the PIO and the public need it, in a real browser against its own `tipline
demo` process: the PIO writes a notice with a photo, a Spanish caution and a Spanish contact
note; the supervisor previews the page, poster and share image and approves it; the public
reads it in Spanish with the English parts marked (axe clean); the supervisor asks to resolve
it and the PIO, as the second person, approves; the "Resolved" page lists it. Screenshots of
the poster, the share image and the preview go to docs/screenshots/."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from .conftest import (
    ARTIFACTS,
    PHONE,
    assert_accessible,
    fill_new_notice,
    running_demo,
    staff_desktop,
)
from .test_journeys import _jpeg

pytestmark = pytest.mark.slow

SUBJECT = "Dana Louise Example"
CAUTION_ES = "No se acerque. Si la ve, llame al 911."
NOTE_ES = "Pregunte por la detective Rivers."
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_demo(tmp_path_factory.mktemp("publishing")) as demo:
        yield demo


def _keep(name: str, data: bytes) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    return path


def test_pio_writes_supervisor_previews_and_approves_public_reads_in_spanish_then_resolution(
    browser, site
):
    base = site.base_url
    pio_context, pio = staff_desktop(browser, site, "demo-pio")
    sup_context, sup = staff_desktop(browser, site, "demo-supervisor")
    try:
        # The PIO writes the notice, with a photo and a Spanish caution.
        pio.goto(f"{base}/staff/notices/new")
        fill_new_notice(
            pio,
            SUBJECT,
            area="Bywater, near Piety Street",
            age="41",
            charge="Theft",
            caution="Do not approach. If you see her, call 911.",
        )
        pio.get_by_label("Caution in Spanish").fill(CAUTION_ES)
        pio.locator("#contact_lines-0-label").fill("Fifth District")
        pio.locator("#contact_lines-0-phone").fill("504-658-6050")
        pio.locator("#contact_lines-0-note").fill("Ask for Det. Rivers.")
        pio.get_by_label("Note of line 1 of this notice in Spanish").fill(NOTE_ES)
        pio.get_by_role("button", name="Save").click()
        pio.get_by_role("heading", name=re.compile(SUBJECT)).wait_for()
        pio.get_by_label("Photo", exact=True).set_input_files(_jpeg((60, 90, 150)))
        pio.get_by_label("Describe the photo for people who cannot see it").fill(
            f"Photo of {SUBJECT}"
        )
        pio.get_by_role("button", name="Add the photo").click()
        pio.get_by_role("img", name=f"Photo of {SUBJECT}").wait_for()
        pio.get_by_role("button", name="Send for review").click()
        pio.get_by_text("Waiting for a second person").wait_for()
        notice_url = pio.url.split("#")[0]
        # The author previews, and is not offered the approval.
        pio.get_by_role("link", name=re.compile("Preview the public page")).click()
        pio.get_by_text("Preview — not public yet").wait_for()
        assert pio.get_by_role("button", name="Approve and publish").count() == 0

        # The supervisor previews page, poster and share image, then approves at the end.
        sup.goto(notice_url)
        sup.get_by_role("link", name=re.compile("then approve")).click()
        sup.get_by_text("Preview — not public yet").wait_for()
        assert_accessible(sup, "supervisor-preview-desktop")
        poster = sup.request.get(f"{notice_url}/preview/poster.pdf")
        share = sup.request.get(f"{notice_url}/preview/share.png")
        assert poster.ok and share.ok
        poster_pdf = _keep("poster.pdf", poster.body())
        _keep("share-image.png", share.body())
        sup.get_by_role("button", name="Approve and publish").click()
        link = sup.locator(".workflow a[href*='/notices/']")
        link.wait_for()
        slug = link.get_attribute("href").rsplit("/", 1)[1]

        # The public reads it in Spanish: the caution translated, English parts marked.
        public_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        public = public_context.new_page()
        public.goto(f"{base}/notices/{slug}?lang=es")
        assert public.locator("html").get_attribute("lang") == "es"
        assert CAUTION_ES in public.locator(".caution").inner_text()
        assert public.locator(".notice-summary").get_attribute("lang") == "en"
        notes = public.locator(".contact-note")
        assert notes.filter(has_text=NOTE_ES).get_attribute("lang") is None
        assert notes.filter(has_text="Anónimo").count() == 1  # the agency line's own translation
        assert_accessible(public, "public-notice-spanish-phone")
        og = public.locator("meta[property='og:image']").get_attribute("content")
        assert public.request.get(og).headers["content-type"] == "image/png"

        # The supervisor asks to resolve it; the PIO, the second person, approves.
        sup.goto(notice_url)
        sup.get_by_label("What happened").select_option("arrested")
        sup.get_by_label("On", exact=True).fill("2026-12-01")
        sup.get_by_role("button", name="Check the resolution").click()
        sup.get_by_text("the public page will say").wait_for()
        assert_accessible(sup, "supervisor-resolution-confirm-desktop")
        sup.get_by_role("button", name="Send for approval").click()
        sup.get_by_text("You proposed this").wait_for()
        pio.goto(notice_url)
        pio.get_by_role("link", name="Preview, then approve").click()
        assert_accessible(pio, "pio-resolution-preview-desktop")
        pio.get_by_role("button", name="Approve and publish").click()
        pio.get_by_text("The public page shows the resolution").wait_for()

        public.goto(f"{base}/resolved?lang=es")
        assert SUBJECT in public.locator("main").inner_text()
        assert_accessible(public, "public-resolved-spanish-phone")
        public_context.close()
    finally:
        pio_context.close()
        sup_context.close()

    # The figures for docs/screenshots/: the poster (pdftoppm), the share image, the preview.
    DOCS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-singlefile", str(poster_pdf), str(DOCS / "poster")],
        check=True,
    )
    for source, name in (
        ("share-image.png", "share-image.png"),
        ("supervisor-preview-desktop.png", "preview-desktop.png"),
    ):
        # 256 colors, as the other figures in docs/screenshots/, to keep the repository small.
        image = Image.open(ARTIFACTS / source).convert("RGB")
        image = image.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        image.save(DOCS / name, optimize=True)
