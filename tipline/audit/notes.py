"""Signed tree heads as C2SP signed notes (checkpoints), and witnesses' co-signatures.

The format is the one Go's checksum database, Sigstore and the transparency-dev witnesses use
(c2sp.org/tlog-checkpoint, c2sp.org/signed-note, c2sp.org/tlog-cosignature), so their tools
can read our heads. A head is::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    Timestamp: <seconds since the epoch, decimal>

    — <origin> <base64(4-byte key hash || Ed25519 signature of the text above the blank line)>

The key hash of the log's key is SHA-256(name || "\\n" || 0x01 || public key)[:4]; its
verifier key, which witnesses pin, is ``<name>+<key hash, hex>+<base64(0x01 || public key)>``.
A witness co-signature is one more signature line under the witness's name: key hash over
0x04, and base64(key hash || 8-byte big-endian time || Ed25519 signature of
"cosignature/v1\\ntime <time>\\n" followed by the note's text).

This module needs only the standard library and ``cryptography``: the witness command runs
it on machines that have nothing of Tipline but the package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
TIMESTAMP = "Timestamp: "


class NoteError(ValueError):
    """A note, key or signature that cannot be read or does not verify; the message says why."""


@dataclass(frozen=True)
class Verifier:
    """A public key with its name, as a verifier key (vkey) string names it."""

    name: str
    kind: int
    public_key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.kind, self.raw)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.raw).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


@dataclass(frozen=True)
class Checkpoint:
    """The body of a signed tree head."""

    origin: str
    size: int
    root: bytes
    timestamp: int

    @property
    def text(self) -> str:
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\n{TIMESTAMP}{self.timestamp}\n"


def key_hash(name: str, kind: int, raw_public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + raw_public_key).digest()[:4]


def verifier(name: str, key: Ed25519PublicKey, kind: int = ED25519) -> Verifier:
    _check_name(name)
    return Verifier(name, kind, key)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"A key name has no spaces and no '+': {name!r} will not do.")


def parse_vkey(vkey: str, kind: int = ED25519) -> Verifier:
    """Read a verifier key ``name+hash+base64``; its type byte must be ``kind``."""
    try:
        name, hash_hex, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        expected = bytes.fromhex(hash_hex)
    except (ValueError, binascii.Error) as error:
        raise NoteError(f"{vkey!r} is not a verifier key (name+hash+key).") from error
    if len(raw) != 33 or raw[0] != kind:
        raise NoteError(f"The verifier key of {name} is not an Ed25519 key of the right type.")
    found = Verifier(name, kind, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if found.key_hash != expected:
        raise NoteError(f"The verifier key of {name} does not match its own key hash.")
    return found


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("A checkpoint has an origin, a size and a root hash, one per line.")
    origin, size, root = lines[0], lines[1], lines[2]
    try:
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise ValueError(size)
        root_bytes = base64.b64decode(root, validate=True)
    except (ValueError, binascii.Error) as error:
        raise NoteError("The checkpoint's size or root hash cannot be read.") from error
    if len(root_bytes) != 32:
        raise NoteError("The checkpoint's root hash is not 32 bytes.")
    timestamp = 0
    for extension in lines[3:-1]:
        if extension.startswith(TIMESTAMP) and extension[len(TIMESTAMP) :].isdigit():
            timestamp = int(extension[len(TIMESTAMP) :])
    return Checkpoint(origin, int(size), root_bytes, timestamp)


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text of ``note`` and its signature lines as (name, decoded signature)."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not text:
        raise NoteError("A signed note is its text, a blank line, then signature lines.")
    text += "\n"
    found = []
    for line in signatures.rstrip("\n").split("\n"):
        prefix = DASH + " "
        if not line.startswith(prefix):
            raise NoteError(f"{line!r} is not a signature line.")
        try:
            name, encoded = line[len(prefix) :].split(" ")
            found.append((name, base64.b64decode(encoded, validate=True)))
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"{line!r} is not a signature line.") from error
    return text, found


def sign(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """``text`` (ending in a newline) as a note signed by ``key`` under ``name``."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("A note's text ends with one newline and has no blank line.")
    signer = verifier(name, key.public_key())
    signature = key.sign(text.encode())
    return f"{text}\n{signature_line(name, signer.key_hash + signature)}"


def signature_line(name: str, blob: bytes) -> str:
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def open_note(note: str, log: Verifier) -> Checkpoint:
    """The checkpoint in ``note`` if ``log`` signed it; raises ``NoteError`` otherwise."""
    text, signatures = split_note(note)
    for name, blob in signatures:
        if name == log.name and blob[:4] == log.key_hash:
            try:
                log.public_key.verify(blob[4:], text.encode())
            except InvalidSignature as error:
                raise NoteError(f"The signature of {log.name} on this head is forged.") from error
            checkpoint = parse_checkpoint(text)
            if checkpoint.origin != log.name:
                raise NoteError(f"This head is of the log {checkpoint.origin!r}, not {log.name!r}.")
            return checkpoint
    raise NoteError(f"This head carries no signature by the pinned key of {log.name}.")


def _cosigned_message(text: str, when: int) -> bytes:
    return f"cosignature/v1\ntime {when}\n".encode() + text.encode()


def cosign(note: str, name: str, key: Ed25519PrivateKey, when: int) -> str:
    """The co-signature line a witness named ``name`` adds to ``note`` at time ``when``."""
    text, _ = split_note(note)
    witness = verifier(name, key.public_key(), COSIGNATURE_V1)
    signature = key.sign(_cosigned_message(text, when))
    return signature_line(name, witness.key_hash + struct.pack(">Q", when) + signature)


def check_cosignature(text: str, name: str, blob: bytes, witness: Verifier) -> int:
    """The time of ``witness``'s co-signature ``blob`` of ``text``; raises if it is not one."""
    if name != witness.name or blob[:4] != witness.key_hash or len(blob) != 4 + 8 + 64:
        raise NoteError(f"This is not a co-signature by the key of {witness.name}.")
    (when,) = struct.unpack(">Q", blob[4:12])
    try:
        witness.public_key.verify(blob[12:], _cosigned_message(text, when))
    except InvalidSignature as error:
        raise NoteError(f"The co-signature of {witness.name} does not verify.") from error
    return when


def cosigners(note: str, witnesses: list[Verifier]) -> dict[str, tuple[int, bytes]]:
    """The witnesses among ``witnesses`` whose valid co-signatures ``note`` carries, with
    the time and the signature of each."""
    text, signatures = split_note(note)
    found = {}
    for name, blob in signatures:
        for witness in witnesses:
            try:
                found[witness.name] = (check_cosignature(text, name, blob, witness), blob)
            except NoteError:
                continue
    return found
