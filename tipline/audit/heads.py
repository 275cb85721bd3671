"""Signed tree heads of the audit log's Merkle tree, and witnesses' co-signatures of them.

Heads are signed with the audit signing key (the one that signs chain checkpoints) as C2SP
checkpoints (``tipline.audit.notes``), by the periodic checkpoint job when the tree grew
and by `tipline audit sign-tree-head`. Each is stored (``AuditTreeHead``) and published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit import notes, tree
from tipline.audit.checkpoints import key_id
from tipline.audit.models import AuditCosignature, AuditEvent, AuditTreeHead
from tipline.db import utcnow


class CosignatureRefused(ValueError):
    """A co-signature that names no configured witness, no head of ours, or does not verify."""


def log_origin(config: Mapping[str, Any]) -> str:
    """The log's name, first line of every head: ``AUDIT_LOG_ORIGIN``, else the public
    host followed by ``/audit-log``. It must never change once heads are published."""
    if config.get("AUDIT_LOG_ORIGIN"):
        return str(config["AUDIT_LOG_ORIGIN"])
    host = urlsplit(config.get("PUBLIC_BASE_URL") or "").netloc
    return f"{host or 'tipline'}/audit-log"


def witness_keys(config: Mapping[str, Any]) -> list[notes.Verifier]:
    """The witnesses whose co-signatures the site accepts (``AUDIT_WITNESS_KEYS``: verifier
    keys, as a list or separated by spaces)."""
    configured = config.get("AUDIT_WITNESS_KEYS") or []
    if isinstance(configured, str):
        configured = configured.split()
    return [notes.parse_vkey(v, notes.COSIGNATURE_V1) for v in configured]


def sign_tree_head(
    session: Session,
    key: Ed25519PrivateKey,
    origin: str,
    now: datetime | None = None,
    *,
    only_if_grown: bool = False,
) -> AuditTreeHead:
    """Sign the committed tree's size and root, store the head and flush.

    With ``only_if_grown``, the latest head is returned instead when the tree has not grown
    since it was signed (the periodic job).
    """
    size = tree.size(session)
    if only_if_grown:
        latest = latest_head(session)
        if latest is not None and latest.tree_size == size:
            return latest
    root = tree.root(session, size)
    moment = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    checkpoint = notes.Checkpoint(origin, size, root, int(moment.timestamp()))
    note = notes.sign(checkpoint.text, origin, key)
    _, ((_, blob),) = notes.split_note(note)
    head = AuditTreeHead(
        tree_size=size,
        root_hash=root,
        signed_at=moment,
        key_id=key_id(key.public_key()),
        signature=blob[4:],
        note=note,
    )
    session.add(head)
    session.flush()
    return head


def latest_head(session: Session) -> AuditTreeHead | None:
    return session.scalar(select(AuditTreeHead).order_by(AuditTreeHead.id.desc()).limit(1))


def published_size(session: Session) -> int | None:
    """The tree size of the latest head (None before the first)."""
    return session.scalar(
        select(AuditTreeHead.tree_size).order_by(AuditTreeHead.id.desc()).limit(1)
    )


def history(session: Session, before: int | None = None, limit: int = 100) -> list[AuditTreeHead]:
    """Published heads, newest first; ``before`` an id to page back from."""
    query = select(AuditTreeHead).order_by(AuditTreeHead.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditTreeHead.id < before)
    return list(session.scalars(query))


def head_covering(session: Session, index: int) -> AuditTreeHead | None:
    """The latest head whose tree includes leaf ``index``."""
    head = latest_head(session)
    return head if head is not None and head.tree_size > index else None


def cosigned_note(head: AuditTreeHead, cosignatures: Iterable[AuditCosignature]) -> str:
    """The head's note with the witnesses' co-signature lines under the log's signature."""
    return head.note + "".join(c.line for c in cosignatures)


def cosignatures_of(session: Session, head: AuditTreeHead) -> list[AuditCosignature]:
    return list(
        session.scalars(
            select(AuditCosignature)
            .where(AuditCosignature.head_id == head.id)
            .order_by(AuditCosignature.witness)
        )
    )


def add_cosignatures(
    session: Session, note: str, witnesses: list[notes.Verifier]
) -> list[AuditCosignature]:
    """Store the co-signatures that ``note`` (one of our heads, co-signed) carries from
    configured ``witnesses``; raises ``CosignatureRefused`` if it carries none. Flushes."""
    try:
        text, _ = notes.split_note(note)
        found = notes.cosigners(note, witnesses)
        size = notes.parse_checkpoint(text).size
    except notes.NoteError as error:
        raise CosignatureRefused(str(error)) from error
    candidates = session.scalars(
        select(AuditTreeHead)
        .where(AuditTreeHead.tree_size == size)
        .order_by(AuditTreeHead.id.desc())
    )
    head = next((h for h in candidates if h.note.startswith(text + "\n")), None)
    if head is None:
        raise CosignatureRefused("This is not a head this log signed.")
    if not found:
        raise CosignatureRefused("The note carries no valid co-signature of a known witness.")
    stored = []
    existing = {c.witness for c in cosignatures_of(session, head)}
    for name, (when, blob) in found.items():
        if name in existing:
            continue
        cosignature = AuditCosignature(
            head_id=head.id,
            witness=name,
            signed_time=when,
            line=notes.signature_line(name, blob),
        )
        session.add(cosignature)
        stored.append(cosignature)
    session.flush()
    return stored


@dataclass(frozen=True)
class PublishedInclusion:
    """Where one event sits in the latest published head, and the hashes proving it."""

    index: int
    leaf_hash: bytes
    head: AuditTreeHead | None  # None: not in a published head yet
    proof: list[bytes]


def inclusion_of(
    session: Session, action: str, object_type: str, object_id: str
) -> PublishedInclusion | None:
    """The inclusion proof, in the latest published head, of the first ``action`` event of
    an object (a tip's ``tip.received``: the receipt page); None if there is no such event."""
    seq = session.scalar(
        select(AuditEvent.seq)
        .where(
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == object_id,
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.seq)
        .limit(1)
    )
    if seq is None:
        return None
    index = seq - 1
    leaf = tree.leaf_hash(session, index)
    if leaf is None:
        return None
    head = head_covering(session, index)
    if head is None:
        return PublishedInclusion(index, leaf, None, [])
    return PublishedInclusion(
        index, leaf, head, tree.inclusion_proof(session, index, head.tree_size)
    )
