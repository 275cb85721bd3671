"""Signed checkpoints of the chain head, kept outside the database.

A checkpoint is one JSON line ``{"v", "seq", "hash", "at", "key", "sig"}``: the sequence number
and hash of the newest row, signed with an Ed25519 key that the database never sees. Someone
who can rewrite the table but not the checkpoint file cannot remove the tail of the log without
`tipline audit verify` noticing: a checkpoint would vouch for a row that is gone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.audit import chain
from tipline.audit.models import AuditEvent
from tipline.db import utcnow


class CheckpointError(RuntimeError):
    """The signing key or the checkpoint file cannot be used; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    hash: str
    at: str


def new_signing_key(path: str | Path) -> str:
    """Create an Ed25519 signing key at ``path`` (mode 0600; never overwrites). Returns its id."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise CheckpointError(f"A signing key already exists at {path}.") from error
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key_id(key.public_key())


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except FileNotFoundError as error:
        raise CheckpointError(
            f"There is no audit signing key at {path}. Create one with "
            "`tipline audit new-signing-key`, or set TIPLINE_AUDIT_SIGNING_KEY_FILE."
        ) from error
    except ValueError as error:
        raise CheckpointError(f"The file {path} is not a PEM private key.") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"The key in {path} is not an Ed25519 key.")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of the public key, written in each checkpoint."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _signed_part(seq: int, row_hash: str, at: str) -> bytes:
    return chain.canonical_json({"v": 1, "seq": seq, "hash": row_hash, "at": at})


def write_checkpoint(
    session: Session, key_path: str | Path, file_path: str | Path, now: datetime | None = None
) -> Checkpoint:
    """Sign the committed chain head and append it to ``file_path`` (flushed to disk)."""
    key = load_signing_key(key_path)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.row_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, row_hash = (head.seq, head.row_hash) if head else (0, chain.GENESIS)
    at = chain.timestamp(now or utcnow())
    signature = key.sign(_signed_part(seq, row_hash, at))
    entry = {
        "v": 1,
        "seq": seq,
        "hash": row_hash,
        "at": at,
        "key": key_id(key.public_key()),
        "sig": base64.b64encode(signature).decode("ascii"),
    }
    path = Path(file_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "ab") as f:
        f.write(chain.canonical_json(entry) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    with path.open("rb") as f:
        lines = sum(1 for _ in f)
    return Checkpoint(line=lines, seq=seq, hash=row_hash, at=at)


def read_checkpoints(
    file_path: str | Path, public_key: Ed25519PublicKey
) -> tuple[list[Checkpoint], str | None]:
    """The checkpoints in ``file_path`` with good signatures, and the first problem, if any.

    Reading stops at the first line that does not parse, is not signed by ``public_key``,
    or goes backwards in sequence.
    """
    found: list[Checkpoint] = []
    path = Path(file_path)
    if not path.exists():
        return found, None
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"checkpoint line {number} of {path}"
            try:
                entry = json.loads(raw)
                seq, row_hash, at = int(entry["seq"]), str(entry["hash"]), str(entry["at"])
                signature = base64.b64decode(entry["sig"], validate=True)
            except (ValueError, KeyError, TypeError):
                return found, f"{where} is not a checkpoint."
            try:
                public_key.verify(signature, _signed_part(seq, row_hash, at))
            except InvalidSignature:
                return found, f"{where} is not signed by the audit signing key."
            if found and seq < found[-1].seq:
                return found, f"{where} goes back from sequence {found[-1].seq} to {seq}."
            found.append(Checkpoint(line=number, seq=seq, hash=row_hash, at=at))
    return found, None
