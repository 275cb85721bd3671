"""The audit chain's row hash, encoding version 1, as revision 0601 used it to chain the rows
written before the chain existed. Never edited: see the package docstring. (The application's
own copy lives in ``tipline.audit.chain``; a test checks the two agree.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
ENCODING_VERSION = 1


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def normalise_details(details: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(canonical_json(dict(details)))


def row_hash_v1(key: bytes, fields: Mapping[str, Any], prev_hash: str) -> str:
    """``fields``: seq, occurred_at (aware datetime), actor_id, actor_label, action,
    object_type, object_id, details (normalised)."""
    moment: datetime = fields["occurred_at"]
    if moment.tzinfo is None:  # SQLite gives back naive UTC
        moment = moment.replace(tzinfo=UTC)
    encoded = canonical_json(
        {
            **fields,
            "v": ENCODING_VERSION,
            "occurred_at": moment.astimezone(UTC).isoformat(timespec="microseconds"),
            "prev_hash": prev_hash,
        }
    )
    return hmac.new(key, encoded, hashlib.sha256).hexdigest()
