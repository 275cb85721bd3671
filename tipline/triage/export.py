"""Exporting one tip for the case file, as JSON or PDF. Each export is audited with who made
it and in which format, in the same transaction as the read.

The export holds what a detective sees on the tip page, internal notes included (it goes to
the case file, not to the tipster). PDF via fpdf2: pure Python, maintained, no system
libraries; a Unicode TrueType font (DejaVu Sans) when the system has one, so names and
addresses in any script survive, else the core Helvetica with unrepresentable characters
replaced (and the export says so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import StaffUser
from tipline.db import utcnow
from tipline.tips.models import Tip
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


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def tip_record(session: Session, viewer: StaffUser, tip: Tip) -> dict[str, Any]:
    """Everything on the tip page as plain data."""
    notice = tip.notice
    return {
        "reference": tip.public_ref,
        "received_at": _iso(tip.received_at),
        "status": tip.status.value,
        "status_reason": tip.status_reason,
        "public_status": tip.status.public_label,
        "priority": tip.priority.value,
        "due_at": _iso(tip.due_at),
        "there_now": tip.there_now,
        "claimed_by": tip.claimed_by.username if tip.claimed_by else None,
        "claimed_at": _iso(tip.claimed_at),
        "taken_by_phone_by": tip.operator.username if tip.operator else None,
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
        "seen_when": tip.seen_when,
        "seen_where": tip.seen_where,
        "narrative": tip.narrative,
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
            {"author": n.author.username, "at": _iso(n.created_at), "text": n.body}
            for n in notes_for(session, viewer, tip)
        ],
    }


def export_tip(session: Session, viewer: StaffUser, tip: Tip, fmt: str) -> Export:
    """Build the export in ``fmt`` ("json" or "pdf") and record who exported it."""
    require_reader(viewer)
    if fmt not in ("json", "pdf"):
        raise ValueError("Exports are JSON or PDF.")
    record = tip_record(session, viewer, tip)
    record["exported_by"] = viewer.username
    record["exported_at"] = utcnow().isoformat()
    name = f"tip-{tip.public_ref}.{fmt}"
    if fmt == "json":
        data = json.dumps(record, indent=2, ensure_ascii=False).encode()
        export = Export(name, "application/json", data)
    else:
        export = Export(name, "application/pdf", render_pdf(record))
    audit.record(session, viewer, "tip.exported", "tip", tip.public_ref, format=fmt)
    return export


def _font_path() -> Path | None:
    return next((p for p in FONT_CANDIDATES if p.exists()), None)


def render_pdf(record: dict[str, Any]) -> bytes:
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
    pdf.multi_cell(0, 9, clean(f"Tip {record['reference']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    pdf.multi_cell(
        0,
        5,
        clean(
            f"Exported by {record['exported_by']} at {record['exported_at']}. Internal: "
            "contains staff notes. Not for release."
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

    notice = record["notice"]
    facts = [
        f"Received: {record['received_at']}",
        f"Status: {record['status']}"
        + (f" ({record['status_reason']})" if record["status_reason"] else ""),
        f"Priority: {record['priority']}, due {record['due_at']}",
        f"There right now: {'yes' if record['there_now'] else 'no'}",
        f"Claimed by: {record['claimed_by'] or 'nobody'}",
        f"Tags: {', '.join(record['tags']) or 'none'}",
    ]
    section("Facts", "\n".join(facts))
    if notice:
        charges = "\n".join(f"{c['citation']}: {c['description']}" for c in notice["charges"])
        section("Notice", f"{notice['subject_name']}\n{charges}")
    section("Seen when", record["seen_when"])
    section("Seen where", record["seen_where"])
    section("What the tipster saw", record["narrative"])
    if record["links"]:
        section("Linked tips", "\n".join(f"{lk['kind']}: {lk['tip']}" for lk in record["links"]))
    notes = "\n\n".join(
        f"{n['author']} at {n['at']}:\n{n['text']}" for n in record["internal_notes"]
    )
    section("Internal notes", notes)
    return bytes(pdf.output())
