"""CAP 1.2 (OASIS Common Alerting Protocol) messages for a notice, derived from its audit trail.

Publication is an Alert, each later change an Update, resolution a Cancel; every Update and
Cancel references the messages before it. Identifiers come from the notice's slug and the id of
the audit event that caused the message, so they never change once given out (the log is
append-only) and the same history always yields the same messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from tipline import audit
from tipline.notices.models import Notice

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/cap+xml; charset=utf-8"

# The life-cycle actions (written by the notice services) and the message each one makes.
PUBLISHED = "notice.published"
EDITED = "notice.edited"
RESOLVED = "notice.resolved"
CORRECTED = "notice.resolution_corrected"

# CAP's own vocabulary. A warrant is a fact ("Observed"); the public is asked to watch for the
# person and call, not to act ("Monitor"); the danger is to be judged by the caution text.
CATEGORY = "Security"
EVENT = "Wanted person"
URGENCY = "Future"
SEVERITY = "Moderate"
CERTAINTY = "Observed"

# XML 1.0 cannot carry most control characters; text typed by staff may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Message:
    """One CAP message in a notice's history (what is needed to reference it)."""

    identifier: str
    msg_type: str  # Alert, Update or Cancel
    sent: datetime
    corrects_cancel: bool = False  # an Update that withdraws a Cancel sent in error

    def reference(self, sender: str) -> str:
        return f"{sender},{self.identifier},{cap_time(self.sent)}"


def cap_time(moment: datetime) -> str:
    """CAP's dateTime form: seconds, an explicit offset, no "Z" and no fractions."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def sender_id(host: str) -> str:
    """A CAP sender (no spaces, commas or markup) for the site's host name."""
    return re.sub(r"[^A-Za-z0-9.:@_-]", "", host) or "tipline"


def _identifier(notice: Notice, number: int) -> str:
    """The notice's own message number (1, 2, ...): stable, since a notice's messages only
    ever grow, and unlike the audit row id it says nothing about how busy the site is."""
    return f"tipline.notice.{notice.slug}.{number}"


def message_history(session: Session, notice: Notice) -> list[Message]:
    """The notice's CAP messages, oldest first; empty while it has never been published."""
    messages: list[Message] = []
    for event in audit.events_for(session, "notice", notice.slug):
        if messages and messages[-1].msg_type == "Cancel":
            # A cancelled stream is closed, unless the resolution is corrected: an Update
            # that references every message, the Cancel included, supersedes them.
            if event.action == CORRECTED:
                messages.append(
                    Message(
                        _identifier(notice, len(messages) + 1),
                        "Update",
                        event.occurred_at,
                        True,
                    )
                )
            continue
        if event.action == PUBLISHED:
            kind = "Update" if messages else "Alert"
        elif event.action == EDITED and messages:
            kind = "Update"
        elif event.action == RESOLVED and messages:
            kind = "Cancel"
        else:
            continue  # drafting, and anything not public, makes no message
        number = len(messages) + 1
        messages.append(Message(_identifier(notice, number), kind, event.occurred_at))
    return messages


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: Any, tag: str, text: str) -> Any:
    child = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    child.text = xml_text(text)
    return child


def render_message(
    history: list[Message],
    index: int,
    document: dict[str, Any],
    sender: str,
    agency_name: str,
) -> bytes:
    """The CAP XML of ``history[index]``, describing the notice as ``document`` says it is now."""
    message = history[index]
    alert = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _add(alert, "identifier", message.identifier)
    _add(alert, "sender", sender)
    _add(alert, "sent", cap_time(message.sent))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", message.msg_type)
    _add(alert, "scope", "Public")
    if message.msg_type == "Cancel":
        _add(alert, "note", f"{document['subject_name']} is no longer sought.")
    elif message.corrects_cancel:
        _add(alert, "note", f"The earlier Cancel was sent in error. {document['correction']}")
    if index > 0:
        _add(alert, "references", " ".join(m.reference(sender) for m in history[:index]))

    info = etree.SubElement(alert, f"{{{CAP_NS}}}info")
    _add(info, "language", "en-US")
    _add(info, "category", CATEGORY)
    _add(info, "event", EVENT)
    _add(info, "responseType", "AllClear" if message.msg_type == "Cancel" else "Monitor")
    _add(info, "urgency", URGENCY)
    _add(info, "severity", SEVERITY)
    _add(info, "certainty", CERTAINTY)
    _add(info, "senderName", agency_name)
    _add(info, "headline", document["title"][:160])
    _add(info, "description", _description(document))
    _add(info, "instruction", _instruction(document, message.msg_type))
    _add(info, "web", document["url"])
    if document["contact_lines"]:
        _add(info, "contact", "; ".join(_contact(c) for c in document["contact_lines"]))
    image = document.get("image")
    if image:
        # CAP 1.2 section 3.2.3: size in bytes and a SHA-1 digest of the resource.
        resource = etree.SubElement(info, f"{{{CAP_NS}}}resource")
        _add(resource, "resourceDesc", "Share image (photo, name and numbers to call)")
        _add(resource, "mimeType", image["mime"])
        _add(resource, "size", str(image["size"]))
        _add(resource, "uri", document["links"]["share_image"])
        _add(resource, "digest", image["sha1"])
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _line(contact: dict[str, str]) -> str:
    return f"{contact['label']} {contact['phone']}"


def _contact(contact: dict[str, str]) -> str:
    """A line with its note (who to ask for, the hours), for ``<contact>``."""
    return _line(contact) + (f" ({contact['note']})" if contact["note"] else "")


def _description(document: dict[str, Any]) -> str:
    parts = []
    if document["charges"]:
        parts.append(
            "Wanted on a warrant for: "
            + "; ".join(f"{c['description']} ({c['citation']})" for c in document["charges"])
            + "."
        )
    if document["aliases"]:
        parts.append("Also known as: " + ", ".join(document["aliases"]) + ".")
    if document["description"]:
        parts.append(document["description"])
    if document["reward_text"]:
        parts.append("Reward: " + document["reward_text"])
    return "\n\n".join(parts) or document["title"]


def _instruction(document: dict[str, Any], msg_type: str) -> str:
    if msg_type == "Cancel":
        return "This person is no longer sought. No action is needed."
    parts = []
    if document["caution"]:
        parts.append(document["caution"])
    if document["contact_lines"]:
        parts.append(
            "If you know where this person is, call "
            + " or ".join(_line(c) for c in document["contact_lines"])
            + "."
        )
    if document["links"]["tip"]:
        parts.append(f"Or send a tip online: {document['links']['tip']}")
    return " ".join(parts)
