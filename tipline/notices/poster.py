"""The printable poster: one US-letter page to pin up in a shop window or a precinct lobby.

Built from ``notice_document()`` and the display photo with fpdf2, in DejaVu Sans (embedded,
subset) so names and text in Spanish or Vietnamese print with their accents. The QR code
(segno) and the printed short address both lead to the notice's tip form, for people who scan
and people who type; the address is printed on one line, never broken.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from io import BytesIO
from pathlib import Path
from typing import Any

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"

PAGE_W, PAGE_H = 215.9, 279.4  # US letter, mm
MARGIN = 15.0
QR_SIZE = 55.0
PHOTO_HEIGHT = 80.0  # mm, at full scale
BOTTOM_BLOCK = QR_SIZE + 12.0  # the QR code and the footer line, pinned to the bottom
RED = (176, 0, 32)
INK = (20, 20, 20)

# Longest texts kept when even the smallest type does not fit the page; these only bite on
# notices far longer than any real one.
_TRUNCATE = {"text": 400, "charges": 8, "lines": 4}


def render_poster(
    document: dict[str, Any],
    agency_name: str,
    emergency_number: str,
    photo: bytes | None = None,
) -> bytes:
    """A one-page PDF for a public notice, with ``photo`` (the display variant's bytes) when
    there is one; type shrinks until everything fits the page.

    Drawing one takes most of a second (fpdf2 parses the fonts each time), so the last few
    are kept in memory, keyed on everything they show: a changed notice is a new key.
    """
    key = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return _render_cached(key, agency_name, emergency_number, photo)


@functools.lru_cache(maxsize=32)
def _render_cached(
    document_json: str, agency_name: str, emergency_number: str, photo: bytes | None
) -> bytes:
    return _render(json.loads(document_json), agency_name, emergency_number, photo)


def _render(
    document: dict[str, Any], agency_name: str, emergency_number: str, photo: bytes | None
) -> bytes:
    for scale in (1.0, 0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, None):
        pdf = _build(
            document, agency_name, emergency_number, photo, scale or 0.5, truncate=not scale
        )
        try:
            if pdf.page_no() == 1:
                return bytes(pdf.output())
        finally:
            _close_fonts(pdf)
    raise AssertionError("unreachable: the truncated poster cannot overflow")  # pragma: no cover


def _close_fonts(pdf: FPDF) -> None:
    # fpdf2 opens font files lazily (fontTools) and leaves them open; close them ourselves.
    for font in pdf.fonts.values():
        ttfont = getattr(font, "ttfont", None)
        if ttfont is not None:
            ttfont.close()


def _nfc(text: str) -> str:
    # Composed characters keep Vietnamese diacritics on one glyph each.
    return unicodedata.normalize("NFC", text)


def _cut(text: str, truncate: bool) -> str:
    limit = _TRUNCATE["text"]
    return text if not truncate or len(text) <= limit else text[: limit - 1] + "…"


def _build(
    document: dict[str, Any],
    agency_name: str,
    emergency_number: str,
    photo: bytes | None,
    scale: float,
    truncate: bool,
) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="letter")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    # Flowing text stops above the pinned bottom block; spilling over means "shrink and retry".
    pdf.set_auto_page_break(not truncate, margin=MARGIN + BOTTOM_BLOCK)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_nfc(document["title"]))
    pdf.set_author(_nfc(agency_name))
    pdf.set_creator("Tipline")
    # The poster is in English (a screen reader reading the PDF aloud needs to know).
    pdf.set_lang("en-US")
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    def text(size: float, body: str, style: str = "", align: str = "L", gap: float = 1.0) -> None:
        pdf.set_font(FONT, style, size * scale)
        pdf.multi_cell(
            width,
            size * scale * 0.45,
            _nfc(body),
            align=align,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(gap * scale)

    pdf.set_text_color(*INK)
    text(14, agency_name, "B", "C")
    pdf.set_text_color(*RED)
    text(64, "WANTED", "B", "C", gap=0)
    pdf.set_text_color(*INK)
    if photo:
        # The face first: centred, as tall as the page allows at this scale.
        height = PHOTO_HEIGHT * scale
        with Image.open(BytesIO(photo)) as picture:
            ratio = picture.width / picture.height
            width_mm = min(height * ratio, width)
            pdf.image(picture.copy(), x=(PAGE_W - width_mm) / 2, y=pdf.get_y(), w=width_mm)
        pdf.set_y(pdf.get_y() + width_mm / ratio + 2 * scale)
    text(30, document["subject_name"], "B", "C", gap=2)
    if document["aliases"]:
        text(14, "Also known as: " + ", ".join(document["aliases"]), align="C", gap=2)
    facts = [f"{row['label']}: {row['value']}" for row in document["physical_description"]]
    if facts:
        text(13, _cut("   ·   ".join(facts), truncate), align="C", gap=1)
    if document["last_known_area"]:
        text(13, "Last known area: " + _cut(document["last_known_area"], truncate), "B", "C")
    pdf.ln(2 * scale)

    charges = document["charges"][: _TRUNCATE["charges"]] if truncate else document["charges"]
    if charges:
        text(15, "Wanted on a warrant for", "B")
        for charge in charges:
            text(
                14,
                f"•  {charge['description']} ({charge['citation']}, {charge['severity']})",
                gap=0.5,
            )
        pdf.ln(3 * scale)

    if document["caution"]:
        pdf.set_fill_color(255, 236, 179)
        pdf.set_font(FONT, "B", 16 * scale)
        pdf.multi_cell(
            width,
            16 * scale * 0.5,
            _nfc("CAUTION: " + _cut(document["caution"], truncate)),
            border=1,
            fill=True,
            padding=2,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(3 * scale)

    if document["description"]:
        text(12, _cut(document["description"], truncate), gap=3)

    if document["reward_text"]:
        text(15, "Reward", "B")
        text(13, _cut(document["reward_text"], truncate), gap=3)
    if document.get("max_reward"):
        text(13, "Reward up to {amount:,} {currency}".format(**document["max_reward"]), "B", gap=3)

    lines = document["contact_lines"]
    if truncate:
        lines = lines[: _TRUNCATE["lines"]]
    if lines:
        text(18, "Seen this person? Call", "B", gap=1)
        for line in lines:
            # Label and number on one line: the number large enough to read across a room.
            pdf.set_font(FONT, "", 14 * scale)
            pdf.cell(width * 0.5, 30 * scale * 0.5, _nfc(line["label"]))
            pdf.set_font(FONT, "B", 30 * scale)
            pdf.cell(width * 0.5, 30 * scale * 0.5, line["phone"], align="R")
            pdf.ln(30 * scale * 0.5 + 1.5 * scale)
            if line["note"]:
                # Who to ask for, or the hours: calling without it can be a wasted call.
                text(12, line["note"], gap=1.5)

    _bottom_block(pdf, document, emergency_number)
    return pdf


def _short_form(url: str) -> str:
    """An address as people type it: no scheme."""
    return url.split("://", 1)[-1]


def _bottom_block(pdf: FPDF, document: dict[str, Any], emergency_number: str) -> None:
    """The QR code and the tip URL in text, pinned to the foot of the page."""
    tip_url = document["links"]["tip"] or document["url"]
    top = PAGE_H - MARGIN - BOTTOM_BLOCK
    png = BytesIO()
    segno.make(tip_url, error="m", micro=False).save(png, kind="png", scale=10, border=4)
    png.seek(0)
    pdf.image(png, x=MARGIN, y=top, w=QR_SIZE, h=QR_SIZE)

    pdf.set_auto_page_break(False)
    left = MARGIN + QR_SIZE + 6
    width = PAGE_W - MARGIN - left
    pdf.set_xy(left, top + 6)
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(width, 8, "Send a tip online, anonymously", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 12)
    pdf.multi_cell(width, 6, "Scan the code, or type this address:", new_x=XPos.LEFT)
    short = _short_form(document["links"].get("short") or tip_url)
    # One unbroken line: the type shrinks until the whole address fits.
    size = 20.0
    pdf.set_font(FONT, "B", size)
    while pdf.get_string_width(short) > width and size > 6:
        size -= 0.5
        pdf.set_font(FONT, "B", size)
    pdf.cell(width, size * 0.5, short, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(left, pdf.get_y() + 3)  # ln() would return to the page margin, under the QR
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 6.5, f"In danger right now? Call {emergency_number}.", new_x=XPos.LEFT)
    pdf.set_xy(MARGIN, PAGE_H - MARGIN - 6)
    pdf.set_font(FONT, "", 10)
    pdf.cell(
        PAGE_W - 2 * MARGIN,
        5,
        "Everyone is presumed innocent until proven guilty in court.",
        align="C",
    )
