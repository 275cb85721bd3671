"""What a tipster sent, committed to the audit log, and the check that it is still there.

``tip.received`` carries a SHA-256 over the tip's submitted fields (narrative and every
other field, the language of the form, the sealed contact details, the receipt hash, the
notice and the operator) and one digest per photo; each later answer carries the digest of
its text and its photos; each note the digest of its text. ``tipline.triage.verification``
(run by `tipline audit verify` after the chain walk) recomputes them from the stored rows and
names the first difference, a closed tip without its closing event, a priority without its
event, and a missing answer, photo or note. The chain makes the events themselves
tamper-evident, so a rewritten tip cannot be matched by rewriting its event.

The field list is versioned: the event names the version it was hashed under
(``content_version``; events without it are version 1, from before the language was
covered), and verify re-hashes each tip under its own event's version, so tips stored before
a field was added still verify and new tips cover it.

Photos are digested as stored (the sealed bytes): the check needs no data key, and a change
to the ciphertext is a change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from tipline.tips import fields
from tipline.tips.models import Tip, TipAttachment, TipMessage

#: The tip's columns that hold what was submitted (staff never change them; retention empties
#: them and says so in ``tip.purged``): where it came from, and every declared field but the
#: sealed contact details, which are digested as stored.
SUBMITTED_COLUMNS = (
    "public_ref",
    "notice_id",
    "operator_id",
    *(f.stored_in for f in fields.TIP_FIELDS if not f.sealed),
)


#: What ``tip_digest`` covers, by version. Version 1 (events written before 2026-12-07, which
#: carry no ``content_version``) left out the language of the form.
CONTENT_VERSION = 2
_VERSION_FIELDS = {1: SUBMITTED_COLUMNS, 2: (*SUBMITTED_COLUMNS, "language")}


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _bytes_digest(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def photo_digest(attachment: TipAttachment) -> str:
    return _digest(
        {
            "ref": attachment.public_ref,
            "mime": attachment.mime,
            "size": [attachment.width, attachment.height, attachment.byte_size],
            "sealed": _bytes_digest(attachment.sealed),
        }
    )


def tip_digest(tip: Tip, version: int = CONTENT_VERSION) -> str:
    """The digest of what the tip's form carried (not its photos: see ``photo_digest``),
    under the field list of ``version``; ValueError for a version this code does not know."""
    if not isinstance(version, int) or version not in _VERSION_FIELDS:
        raise ValueError(f"unknown tip content version {version!r}")
    given = {name: getattr(tip, name) for name in _VERSION_FIELDS[version]}
    given["there_now"] = bool(given["there_now"])
    given["contact_sealed"] = _bytes_digest(tip.contact_sealed)
    given["receipt_hash"] = _bytes_digest(tip.receipt_hash)
    return _digest(given)


def text_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def received_version(details: dict[str, object]) -> int:
    """The content version a ``tip.received`` event's digest was made under (0 when the
    event names something that is not a version)."""
    version = details.get("content_version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def received_details(tip: Tip, photos: Iterable[TipAttachment]) -> dict[str, object]:
    """What ``tip.received`` commits to (under the current ``CONTENT_VERSION``)."""
    return {
        "content": tip_digest(tip, CONTENT_VERSION),
        "content_version": CONTENT_VERSION,
        "photo_digests": [photo_digest(p) for p in photos],
    }


def answer_details(message: TipMessage, photos: Iterable[TipAttachment]) -> dict[str, object]:
    """What ``tip.answered`` commits to."""
    return {
        "content": text_digest(message.body),
        "photo_digests": [photo_digest(p) for p in photos],
    }
