"""Encryption at rest for what a tipster may not want read off a stolen disk or backup:
photos and volunteered contact details. AES-256-GCM under the configured data key.

Each sealed value is bound to its purpose and row (the associated data), so a ciphertext
copied into another row does not open. A wrong or missing key raises ``SealBroken``; it never
returns garbage.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tipline.config import DataKeyError, data_key_bytes

VERSION = b"\x01"
NONCE_BYTES = 12


class SealBroken(RuntimeError):
    """A sealed value did not open: the data key is wrong, or the bytes were changed."""


def key_bytes(key: bytes | str | None) -> bytes:
    """The 32-byte data key; SealBroken when none usable is configured."""
    if isinstance(key, bytes) and len(key) == 32:
        return key
    try:
        return data_key_bytes(key)
    except DataKeyError as error:
        raise SealBroken(
            "No usable data key is configured (TIPLINE_DATA_KEY), so encrypted tip photos and "
            "contact details cannot be read or written."
        ) from error


def _cipher(key: bytes | str | None) -> AESGCM:
    return AESGCM(key_bytes(key))


def seal(key: bytes | str | None, plaintext: bytes, context: str) -> bytes:
    """Encrypt ``plaintext`` for ``context`` (for example ``"tip-contact:ABCD"``)."""
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + _cipher(key).encrypt(nonce, plaintext, context.encode())


def unseal(key: bytes | str | None, sealed: bytes, context: str) -> bytes:
    """Decrypt what ``seal`` made for the same ``context``; SealBroken otherwise."""
    cipher = _cipher(key)
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
        raise SealBroken(f"The encrypted value for {context} is not in a format we know.")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return cipher.decrypt(nonce, body, context.encode())
    except InvalidTag:
        raise SealBroken(
            f"The encrypted value for {context} did not open: the data key (TIPLINE_DATA_KEY) "
            "is not the one it was sealed with, or the stored bytes were changed."
        ) from None
