"""The printable poster: one US-letter page to pin up in a shop window or a precinct lobby.

Built from ``notice_document()`` with fpdf2, in DejaVu Sans (embedded, subset) so names and
text in Spanish or Vietnamese print with their accents. The QR code (segno) and the printed URL
both lead to the notice's tip form, for people who scan and people who type.
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

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"

PAGE_W, PAGE_H = 215.9, 279.4  # US letter, mm
MARGIN = 15.0
QR_SIZE = 55.0
BOTTOM_BLOCK = QR_SIZE + 12.0  # the QR code and the footer line, pinned to the bottom
RED = (176, 0, 32)
INK = (20, 20, 20)

# Longest texts kept when even the smallest type does not fit the page; these only bite on
# notices far longer than any real one.
_TRUNCATE = {"text": 400, "charges": 8, "lines": 4}


def render_poster(document: dict[str, Any], agency_name: str, emergency_number: str) -> bytes:
    """A one-page PDF for a public notice; type shrinks until everything fits the page.

    Drawing one takes most of a second (fpdf2 parses the fonts each time), so the last few
    are kept in memory, keyed on everything they show: a changed notice is a new key.
    """
    key = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return _render_cached(key, agency_name, emergency_number)


@functools.lru_cache(maxsize=32)
def _render_cached(document_json: str, agency_name: str, emergency_number: str) -> bytes:
    return _render(json.loads(document_json), agency_name, emergency_number)


def _render(document: dict[str, Any], agency_name: str, emergency_number: str) -> bytes:
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, None):
        pdf = _build(document, agency_name, emergency_number, scale or 0.5, truncate=not scale)
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
    text(72, "WANTED", "B", "C", gap=0)
    pdf.set_text_color(*INK)
    text(30, document["subject_name"], "B", "C", gap=2)
    if document["aliases"]:
        text(14, "Also known as: " + ", ".join(document["aliases"]), align="C", gap=3)

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
            text(14, line["label"], gap=0)
            text(34, line["phone"], "B", gap=2)

    _bottom_block(pdf, document, emergency_number)
    return pdf


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
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(width, 6, tip_url, new_x=XPos.LEFT, new_y=YPos.NEXT)
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
