"""The hash chain: the canonical encoding of an audit row and its keyed hash.

Each row's hash is HMAC-SHA256, under the audit key, of the canonical encoding of its fields
together with the previous row's hash. The encoding is version 1 below; changing it would make
every row written before the change fail verification, so it never changes in place.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The "previous hash" of the first row.
GENESIS = "0" * 64
ENCODING_VERSION = 1
KEY_PURPOSE = b"tipline/audit-chain/v1"
MIN_KEY_LENGTH = 32


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: one byte string per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def normalise_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` as they will read back from the JSON column (tuples become lists, ...).

    Hashing the stored form, not the Python objects passed in, keeps the hash reproducible.
    """
    return json.loads(canonical_json(dict(details)))


@functools.lru_cache(maxsize=16)  # an event's row hash and its tree leaf both encode it
def timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds: what both databases store and give back."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(
    key: bytes,
    *,
    seq: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The keyed hash (hex) of one row, linking it to ``prev_hash``."""
    encoded = canonical_json(
        {
            "v": ENCODING_VERSION,
            "seq": seq,
            "occurred_at": timestamp(occurred_at),
            "actor_id": actor_id,
            "actor_label": actor_label,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return hmac.new(key, encoded, hashlib.sha256).hexdigest()


def chain_key(config: Mapping[str, Any]) -> bytes:
    """The audit key: ``AUDIT_KEY`` when set, else derived from ``SECRET_KEY`` for this purpose.

    The derived default keeps `tipline demo` working with no setup; production should set
    ``AUDIT_KEY`` so that rotating the secret key does not break verification of old rows.
    """
    configured = config.get("AUDIT_KEY")
    if configured:
        return configured.encode() if isinstance(configured, str) else bytes(configured)
    return hmac.new(str(config["SECRET_KEY"]).encode(), KEY_PURPOSE, hashlib.sha256).digest()
