"""Exporting one tip for the case file, as JSON or PDF. Each export is audited with who made
it and in which format, in the same transaction as the read.

The export holds what a detective sees on the tip page, internal notes included (it goes to
the case file, not to the tipster). PDF via fpdf2: pure Python, maintained, no system
libraries; a Unicode TrueType font (DejaVu Sans) when the system has one, so names and
addresses in any script survive, else the core Helvetica with unrepresentable characters
replaced (and the export says so).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.sealing import SealBroken
from tipline.tips import attachments, dialog, fields
from tipline.tips import services as tips
from tipline.tips.models import MessageDirection, Tip
from tipline.triage.access import require_reader
from tipline.triage.services import links_for, notes_for, tags_for

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)


@dataclass(frozen=True)
class Export:
    filename: str
    mimetype: str
    data: bytes


SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Photo:
    """A photo for the case file: its reference, type, size, digest and (for the PDF) bytes."""

    ref: str
    mime: str
    width: int
    height: int
    byte_size: int
    sha256: str
    added_later: bool
    data: bytes | None


def _stamp(value: datetime | None, zone: ZoneInfo) -> dict[str, str] | None:
    """A time as data (UTC, ISO 8601) and as a person reads it (local, with the zone)."""
    if value is None:
        return None
    return {
        "utc": value.astimezone(UTC).isoformat(),
        "local": value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    }


def _photos(session: Session, tip: Tip, data_key: bytes | str | None) -> list[Photo]:
    found = []
    for stored in attachments.attachments_for(session, tip):
        try:
            data: bytes | None = attachments.open_photo(tip, stored, data_key)
        except SealBroken:
            data = None  # listed, with a note, rather than dropped from the case file
        found.append(
            Photo(
                ref=stored.public_ref,
                mime=stored.mime,
                width=stored.width,
                height=stored.height,
                byte_size=len(data) if data is not None else stored.byte_size,
                sha256=hashlib.sha256(data).hexdigest() if data is not None else "",
                added_later=stored.message_id is not None,
                data=data,
            )
        )
    return found


def tip_record(
    session: Session,
    viewer: StaffUser,
    tip: Tip,
    data_key: bytes | str | None = None,
    zone: ZoneInfo = ZoneInfo("UTC"),  # noqa: B008 - immutable
    photos: list[Photo] | None = None,
) -> dict[str, Any]:
    """Everything on the tip page as plain data (docs/case-file.md describes it)."""
    notice = tip.notice
    try:
        contact = tips.contact_details(tip, data_key)
    except SealBroken:
        contact = "(could not be opened: the data key is wrong)"
    given = fields.values(tip, contact)
    photos = photos if photos is not None else _photos(session, tip, data_key)
    return {
        "schema": SCHEMA_VERSION,
        "reference": tip.public_ref,
        "short_reference": tip.short_ref,
        "time_zone": zone.key,
        "received_at": _stamp(tip.received_at, zone),
        "status": tip.status.value,
        "status_reason": tip.status_reason,
        "public_status": tip.status.public_label,
        "priority": tip.priority.value,
        "due_at": _stamp(tip.due_at, zone),
        "claimed_by": tip.claimed_by.username if tip.claimed_by else None,
        "claimed_at": _stamp(tip.claimed_at, zone),
        "taken_by_phone_by": tip.operator.username if tip.operator else None,
        "call_dropped": tip.call_dropped,
        "notice": None
        if notice is None
        else {
            "slug": notice.slug,
            "subject_name": notice.subject_name,
            "charges": [
                {"citation": c.citation, "description": c.description, "severity": c.severity}
                for c in notice.charges
            ],
        },
        "fields": {
            f.name: {"label": f.label, "value": given[f.name]}
            for f in fields.TIP_FIELDS
            if f.exported
        },
        "dialog": [
            {
                "from": "tipster" if m.direction is MessageDirection.FROM_TIPSTER else "staff",
                "author": m.author.username if m.author else None,
                "at": _stamp(m.created_at, zone),
                "text": m.body,
                "read_by": m.read_by.username if m.read_by else None,
                "read_at": _stamp(m.read_at, zone),
            }
            for m in dialog.messages_for(session, tip)
        ],
        "photos": [
            {
                "ref": p.ref,
                "type": p.mime,
                "width": p.width,
                "height": p.height,
                "bytes": p.byte_size,
                "sha256": p.sha256,
                "added_later": p.added_later,
            }
            for p in photos
        ],
        "tags": tags_for(session, [tip.id])[tip.id],
        "links": [
            {
                "kind": link.kind.value,
                "tip": link.tip.public_ref,
                "this_is_the_duplicate": link.outgoing,
            }
            for link in links_for(session, viewer, tip)
        ],
        "internal_notes": [
            {"author": n.author.username, "at": _stamp(n.created_at, zone), "text": n.body}
            for n in notes_for(session, viewer, tip)
        ],
    }


def export_tip(
    session: Session,
    viewer: StaffUser,
    tip: Tip,
    fmt: str,
    data_key: bytes | str | None = None,
    zone: ZoneInfo = ZoneInfo("UTC"),  # noqa: B008 - immutable
) -> Export:
    """Build the export in ``fmt`` ("json" or "pdf") and record who exported it."""
    require_reader(viewer)
    if fmt not in ("json", "pdf"):
        raise ValueError("Exports are JSON or PDF.")
    photos = _photos(session, tip, data_key)
    record = tip_record(session, viewer, tip, data_key, zone, photos)
    record["exported_by"] = viewer.username
    record["exported_at"] = _stamp(utcnow(), zone)
    name = f"tip-{tip.public_ref}.{fmt}"
    if fmt == "json":
        data = json.dumps(record, indent=2, ensure_ascii=False).encode()
        export = Export(name, "application/json", data)
    else:
        export = Export(name, "application/pdf", render_pdf(record, photos))
    audit.record(session, viewer, "tip.exported", "tip", tip.public_ref, format=fmt)
    return export


def _font_path() -> Path | None:
    return next((p for p in FONT_CANDIDATES if p.exists()), None)


def render_pdf(record: dict[str, Any], photos: Sequence[Photo] = ()) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title(f"Tip {record['reference']}")
    pdf.set_creator("Tipline")
    font = _font_path()
    if font is not None:
        pdf.add_font("body", fname=str(font))
        family = "body"

        def clean(value: str) -> str:
            return value
    else:
        family = "helvetica"

        def clean(value: str) -> str:
            return value.encode("latin-1", "replace").decode("latin-1")

    pdf.add_page()
    pdf.set_font(family, size=16)
    pdf.multi_cell(0, 9, clean(f"Tip {record['short_reference']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    pdf.multi_cell(
        0,
        5,
        clean(
            f"Reference {record['reference']}. Exported by {record['exported_by']} at "
            f"{record['exported_at']['local']}. Internal: contains staff notes. Not for release."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)

    def section(title: str, body: str) -> None:
        pdf.set_font(family, size=12)
        pdf.multi_cell(0, 7, clean(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, size=10)
        pdf.multi_cell(0, 5, clean(body or "—"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    def local(stamp: dict[str, str] | None) -> str:
        return stamp["local"] if stamp else "—"

    notice = record["notice"]
    facts = [
        f"Received: {local(record['received_at'])}",
        f"Status: {record['status']}"
        + (f" ({record['status_reason']})" if record["status_reason"] else ""),
        f"Priority: {record['priority']}, due {local(record['due_at'])}",
        f"Claimed by: {record['claimed_by'] or 'nobody'}",
        f"Taken by phone by: {record['taken_by_phone_by'] or '—'}"
        + (" (call dropped)" if record["call_dropped"] else ""),
        f"Tags: {', '.join(record['tags']) or 'none'}",
        f"Times are in {record['time_zone']}.",
    ]
    section("Facts", "\n".join(facts))
    if notice:
        charges = "\n".join(f"{c['citation']}: {c['description']}" for c in notice["charges"])
        section("Notice", f"{notice['subject_name']}\n{charges}")
    for item in record["fields"].values():
        value = item["value"]
        if isinstance(value, bool):
            value = "yes" if value else "no"
        section(item["label"], value or "Not given")
    turns = "\n\n".join(
        f"{'Tipster' if t['from'] == 'tipster' else 'Asked by ' + (t['author'] or 'staff')}, "
        f"{local(t['at'])}:\n{t['text'] or '(photos only)'}"
        for t in record["dialog"]
    )
    section("Questions and answers", turns or "None")
    if record["links"]:
        section("Linked tips", "\n".join(f"{lk['kind']}: {lk['tip']}" for lk in record["links"]))
    notes = "\n\n".join(
        f"{n['author']} at {local(n['at'])}:\n{n['text']}" for n in record["internal_notes"]
    )
    section("Internal notes", notes)
    for number, photo in enumerate(photos, start=1):
        title = f"Photo {number} ({photo.width}x{photo.height}, {photo.byte_size} bytes)"
        section(title, f"SHA-256 {photo.sha256 or '(could not be opened)'}")
        if photo.data is not None:
            width = min(170.0, photo.width * 0.264583)  # px to mm at 96 dpi, page-wide at most
            pdf.image(io.BytesIO(photo.data), w=width)
            pdf.ln(3)
    return bytes(pdf.output())
