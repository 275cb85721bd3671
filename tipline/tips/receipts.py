"""Receipt codes: 100 random bits, written as five groups of four Crockford base32 characters.

Crockford's alphabet leaves out I, L, O and U, so a code reads aloud without "is that an O or a
zero?". Only a keyed hash of the code is stored; the tipster's copy is the only plain one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20  # 20 x 5 bits = 100 bits of randomness
GROUP = 4
REF_CHARS = 16  # staff-facing tip reference: 80 bits

_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _random_chars(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def new_receipt_code() -> str:
    """A fresh code such as ``7K3M-QX9P-2D4F-HJ8R-WN5T``."""
    raw = _random_chars(CODE_CHARS)
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_CHARS, GROUP))


def new_public_ref() -> str:
    return _random_chars(REF_CHARS)


def normalise_ref(typed: str) -> str:
    """A tip reference as a person typed it, in canonical form: capitals, no spaces or
    dashes, and the look-alike letters read as Crockford digits."""
    return "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)


def next_prefix(prefix: str) -> str | None:
    """The smallest string after every reference starting with ``prefix`` (None if none)."""
    chars = list(prefix)
    while chars:
        position = ALPHABET.find(chars[-1])
        if 0 <= position < len(ALPHABET) - 1:
            chars[-1] = ALPHABET[position + 1]
            return "".join(chars)
        chars.pop()
    return None


def normalise_code(typed: str) -> str | None:
    """The canonical code for what a tipster typed, or None if it cannot be a code.

    Case, spaces and dashes are ignored, and O, I and L are read as 0, 1 and 1.
    """
    cleaned = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_CHARS or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def hash_code(key: bytes, code: str) -> bytes:
    """The keyed hash stored for a code. Raises ValueError for something that is not a code."""
    canonical = normalise_code(code)
    if canonical is None:
        raise ValueError("not a receipt code")
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).digest()


def receipt_secret(config: Mapping[str, Any]) -> str:
    """The secret receipt codes are hashed under: RECEIPT_SECRET, so that rotating SECRET_KEY
    does not silently invalidate every code; SECRET_KEY where it is not set."""
    return str(config.get("RECEIPT_SECRET") or config["SECRET_KEY"])


def receipt_key(secret_key: str) -> bytes:
    """Derive the receipt-hash key from the application secret, separated by purpose."""
    return hmac.new(secret_key.encode(), b"tipline/receipt-code/v1", hashlib.sha256).digest()
