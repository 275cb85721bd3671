"""The share image of a notice: the 1200×630 picture that Facebook, Nextdoor, X and messaging
apps show beside a shared link, drawn here with Pillow from ``notice_document()``.

The photo (when there is one) fills the left; the right says WANTED (or RESOLVED) with the
name, the charges, the numbers to call and the agency's name, large enough to read in a feed.
A notice without a photo gets the same card with the text across its width. Like the poster it
is built only from the public document, so it changes whenever the notice does.
"""

from __future__ import annotations

import functools
import io
import json
import unicodedata
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from tipline.notices.poster import FONT_DIR

WIDTH, HEIGHT = 1200, 630
PHOTO_WIDTH = 470
PAD = 40
RED = (176, 0, 32)
GREEN = (0, 100, 60)
INK = (20, 20, 20)
PAPER = (255, 255, 255)
BAND = (245, 245, 245)
MIME = "image/png"


def alt_text(document: dict[str, Any], agency_name: str) -> str:
    """What the image shows, for ``og:image:alt`` and screen readers."""
    head = "Resolved" if document["status"] == "resolved" else "Wanted"
    lines = ", ".join(f"{c['label']} {c['phone']}" for c in document["contact_lines"])
    charges = "; ".join(c["description"] for c in document["charges"])
    parts = [f"{head}: {document['subject_name']}."]
    if charges:
        parts.append(f"Charges: {charges}.")
    if lines and head == "Wanted":
        parts.append(f"Call {lines}.")
    parts.append(agency_name + ".")
    return " ".join(parts)


def render_share_image(document: dict[str, Any], photo: bytes | None, agency_name: str) -> bytes:
    """The PNG for ``document`` with ``photo`` (a display variant's bytes) or none.

    Kept in memory by everything it shows, so a changed notice draws a new one."""
    key = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return _render_cached(key, photo, agency_name)


@functools.lru_cache(maxsize=64)
def _render_cached(document_json: str, photo: bytes | None, agency_name: str) -> bytes:
    return _render(json.loads(document_json), photo, agency_name)


@functools.cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in _nfc(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=font) <= width or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def _fit(
    draw: ImageDraw.ImageDraw,
    text: str,
    width: int,
    sizes: tuple[int, ...],
    max_lines: int,
    bold: bool,
) -> tuple[Any, list[str]]:
    """The largest of ``sizes`` at which ``text`` takes at most ``max_lines`` lines (the last
    size is used, cut with an ellipsis, when none fits)."""
    for size in sizes:
        font = _font(size, bold)
        lines = _wrap(draw, text, font, width)
        if len(lines) <= max_lines:
            return font, lines
    lines = lines[:max_lines]
    lines[-1] = lines[-1].rstrip(" .,;") + "…"
    return font, lines


def _render(document: dict[str, Any], photo: bytes | None, agency_name: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    resolved = document["status"] == "resolved"
    left = PAD
    band_left = 0
    if photo:
        picture = Image.open(io.BytesIO(photo)).convert("RGB")
        picture = ImageOps.fit(picture, (PHOTO_WIDTH, HEIGHT), centering=(0.5, 0.3))
        if resolved:
            picture = ImageOps.grayscale(picture).convert("RGB")
        image.paste(picture, (0, 0))
        left = PHOTO_WIDTH + PAD
        band_left = PHOTO_WIDTH
    width = WIDTH - left - PAD

    # Headline band.
    band = RED if not resolved else GREEN
    draw.rectangle((band_left, 0, WIDTH, 118), fill=band)
    headline = "RESOLVED" if resolved else "WANTED"
    draw.text((left, 18), headline, font=_font(80, True), fill=PAPER)

    y = 140
    font, lines = _fit(draw, document["subject_name"], width, (64, 56, 48, 40), 2, True)
    for line in lines:
        draw.text((left, y), line, font=font, fill=INK)
        y += int(font.size * 1.15)
    y += 6

    if resolved and document.get("resolution"):
        font, lines = _fit(draw, document["resolution"], width, (36, 30), 2, True)
        for line in lines:
            draw.text((left, y), line, font=font, fill=GREEN)
            y += int(font.size * 1.2)
    elif document["charges"]:
        charges = "; ".join(c["description"] for c in document["charges"])
        font, lines = _fit(draw, charges, width, (32, 28, 24), 3, False)
        for line in lines:
            draw.text((left, y), line, font=font, fill=INK)
            y += int(font.size * 1.25)

    # The numbers to call, pinned above the agency's name.
    footer_top = HEIGHT - 58
    draw.rectangle((band_left, footer_top, WIDTH, HEIGHT), fill=BAND)
    font, lines = _fit(draw, agency_name, width, (28, 24, 20), 1, True)
    draw.text((left, footer_top + 12), lines[0], font=font, fill=INK)

    contact = document["contact_lines"][:3]
    phones_top = footer_top - 12 - len(contact) * 52
    phones_top = max(phones_top, y + 8)
    label = "Questions? Call" if resolved else "Seen this person? Call"
    for line in contact:
        if phones_top + 46 > footer_top:
            break
        phone_font = _font(40, True)
        phone_x = WIDTH - PAD - int(draw.textlength(line["phone"], font=phone_font))
        label_font, label_lines = _fit(draw, line["label"], phone_x - left - 16, (22, 18), 1, False)
        draw.text((left, phones_top + 14), label_lines[0], font=label_font, fill=INK)
        draw.text((phone_x, phones_top), line["phone"], font=phone_font, fill=band)
        phones_top += 52
    if contact:
        draw.text(
            (left, footer_top - 12 - len(contact) * 52 - 30), label, font=_font(24, True), fill=INK
        )

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
