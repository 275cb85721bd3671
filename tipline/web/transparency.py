"""The audit log's transparency endpoints: signed tree heads, proofs, the log's public key and
witnesses' co-signatures. Public, read-only (but for co-signatures), cacheable.

Everything here is sizes, hashes, times and signatures: no event, tip, staff name or receipt
reference, so anyone may watch the log without reading it (docs/audit.md).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from tipline import db
from tipline.audit import heads, notes, tree
from tipline.audit.checkpoints import CheckpointError, key_id, load_signing_key
from tipline.audit.models import AuditTreeHead
from tipline.web.csrf import csrf

bp = Blueprint("log", __name__, url_prefix="/api/v1/log")

#: Answers that change when a new head is signed (every few minutes at most).
LATEST_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
#: Answers about fixed sizes never change.
FIXED_CACHE_CONTROL = "public, max-age=86400, immutable"
MAX_HISTORY = 100
MAX_NOTE_BYTES = 16 * 1024
_NUMBER = re.compile(r"[0-9]{1,15}")
MAX_NUMBER = 10**15 - 1
_HASH = re.compile(r"[0-9a-f]{64}")


@bp.before_request
def _read_only() -> None:
    if request.method in ("GET", "HEAD"):
        db.read_only_request()


def _cached(response: Response, cache_control: str) -> Response:
    response.headers["Cache-Control"] = cache_control
    response.add_etag()
    return response.make_conditional(request)


def _number(name: str, default: int | None = None) -> int:
    values = request.args.getlist(name)
    if not values:
        if default is None:
            raise BadRequest(f"Give {name}.")
        return default
    if len(values) > 1 or not _NUMBER.fullmatch(values[0]):
        raise BadRequest(f"{name} must be a whole number, given once.")
    return int(values[0])


def _published_size() -> int:
    size = heads.published_size(db.session())
    if size is None:
        abort(404, "No tree head has been published yet.")
    return size


def _head_document(head: AuditTreeHead, cosigned_by: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash.hex(),
        "timestamp": int(head.signed_at.timestamp()),
        "signed_at": head.signed_at.isoformat(),
        "key_id": head.key_id,
        "signature": base64.b64encode(head.signature).decode(),
        "checkpoint": head.note,
        "cosigned_by": cosigned_by,
    }


def _cosigners(head: AuditTreeHead) -> tuple[list[dict[str, Any]], str]:
    cosignatures = heads.cosignatures_of(db.session(), head)
    listed = [{"witness": c.witness, "time": c.signed_time} for c in cosignatures]
    return listed, heads.cosigned_note(head, cosignatures)


@bp.get("/checkpoint")
def checkpoint() -> Response:
    """The latest signed tree head as a signed note, with witnesses' co-signatures."""
    head = heads.latest_head(db.session())
    if head is None:
        abort(404, "No tree head has been published yet.")
    _, note = _cosigners(head)
    response = current_app.response_class(note, mimetype="text/plain")
    return _cached(response, LATEST_CACHE_CONTROL)


@bp.get("/heads/latest")
def latest() -> Response:
    head = heads.latest_head(db.session())
    if head is None:
        abort(404, "No tree head has been published yet.")
    listed, _ = _cosigners(head)
    return _cached(jsonify(_head_document(head, listed)), LATEST_CACHE_CONTROL)


@bp.get("/heads")
def head_history() -> Response:
    # Head ids are 32-bit integers: any larger "before" means "from the newest".
    before = min(_number("before", 0), 2**31 - 1) or None
    limit = _number("limit", MAX_HISTORY)
    if not 1 <= limit <= MAX_HISTORY:
        raise BadRequest(f"limit must be from 1 to {MAX_HISTORY}.")
    found = heads.history(db.session(), before=before, limit=limit)
    return _cached(
        jsonify(
            {
                "heads": [_head_document(h, _cosigners(h)[0]) for h in found],
                "next_before": found[-1].id if len(found) == limit else None,
            }
        ),
        LATEST_CACHE_CONTROL,
    )


@bp.get("/key")
def public_key() -> Response:
    """The key that signs tree heads, as a C2SP verifier key for witnesses to pin."""
    try:
        key = load_signing_key(current_app.config["AUDIT_SIGNING_KEY_FILE"]).public_key()
    except CheckpointError:
        abort(404, "This log has no signing key yet.")
    origin = heads.log_origin(current_app.config)
    signer = notes.verifier(origin, key)
    return _cached(
        jsonify(
            {
                "origin": origin,
                "algorithm": "Ed25519",
                "verifier_key": signer.vkey,
                "public_key": base64.b64encode(signer.raw).decode(),
                "key_id": key_id(key),
                "witnesses": [w.vkey for w in heads.witness_keys(current_app.config)],
            }
        ),
        LATEST_CACHE_CONTROL,
    )


@bp.get("/proof/consistency")
def consistency() -> Response:
    """The hashes that prove the tree of ``first`` leaves is a prefix of that of ``second``."""
    published = _published_size()
    first, second = _number("first"), _number("second", published)
    if not first <= second <= published:
        raise BadRequest(f"Sizes must satisfy first <= second <= {published}.")
    proof = tree.consistency_proof(db.session(), first, second)
    document = {"first": first, "second": second, "proof": [h.hex() for h in proof]}
    return _cached(jsonify(document), FIXED_CACHE_CONTROL)


@bp.get("/proof/inclusion")
def inclusion() -> Response:
    """The hashes that prove a leaf (by ``index`` or ``leaf_hash``) is in the tree of
    ``size`` leaves (default: the latest published head)."""
    session = db.session()
    published = _published_size()
    size = _number("size", published)
    raw_hash = request.args.get("leaf_hash")
    if raw_hash is not None:
        if not _HASH.fullmatch(raw_hash):
            raise BadRequest("leaf_hash must be 64 lower-case hexadecimal digits.")
        index = tree.leaf_index(session, bytes.fromhex(raw_hash))
        if index is None:
            abort(404, "No leaf has this hash.")
    else:
        index = _number("index")
    if not index < size <= published:
        raise BadRequest(f"Need index < size <= {published}.")
    leaf, proof = tree.leaf_and_inclusion_proof(session, index, size)
    document = {
        "index": index,
        "size": size,
        "leaf_hash": leaf.hex(),
        "proof": [h.hex() for h in proof],
    }
    return _cached(jsonify(document), FIXED_CACHE_CONTROL)


@bp.get("/witnesses")
def witnesses() -> Response:
    """The configured witnesses, and which of them co-signed the latest head."""
    head = heads.latest_head(db.session())
    listed = _cosigners(head)[0] if head is not None else []
    return _cached(
        jsonify(
            {
                "tree_size": head.tree_size if head is not None else None,
                "configured": [w.name for w in heads.witness_keys(current_app.config)],
                "cosigned_by": listed,
            }
        ),
        LATEST_CACHE_CONTROL,
    )


@bp.post("/cosignatures")
@csrf.exempt
def cosign() -> Response:
    """A witness posts one of our heads with its co-signature line added (text/plain).
    Accepted only from the witnesses configured in ``AUDIT_WITNESS_KEYS``."""
    raw = request.get_data(cache=False)
    if len(raw) > MAX_NOTE_BYTES:
        raise BadRequest("A co-signed head is a few hundred bytes.")
    try:
        note = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest("Send the co-signed head as UTF-8 text.") from error
    session = db.session()
    try:
        stored = heads.add_cosignatures(session, note, heads.witness_keys(current_app.config))
    except heads.CosignatureRefused as error:
        raise BadRequest(str(error)) from error
    session.commit()
    response = jsonify({"accepted": [c.witness for c in stored]})
    response.status_code = 201 if stored else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, {"$ref": "#/components/schemas/Error"})


def _query(name: str, description: str, required: bool = False, **schema: Any) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_NUMBER, **schema},
    }


_HEX_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_PROOF = {"type": "array", "items": _HEX_HASH, "description": "Hashes, RFC 9162 order."}
_NO_HEAD = _error("No tree head has been published yet.")
_BAD = _error("A parameter could not be read or is out of range.")

SCHEMAS: dict[str, Any] = {
    "TreeHead": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "tree_size",
            "root_hash",
            "timestamp",
            "signed_at",
            "key_id",
            "signature",
            "checkpoint",
            "cosigned_by",
        ],
        "properties": {
            "tree_size": {"type": "integer", "minimum": 0},
            "root_hash": _HEX_HASH,
            "timestamp": {"type": "integer", "description": "Seconds since the epoch."},
            "signed_at": {"type": "string", "format": "date-time"},
            "key_id": {"type": "string", "description": "SHA-256 of the public key, 16 hex."},
            "signature": {"type": "string", "description": "Ed25519 signature, base64."},
            "checkpoint": {
                "type": "string",
                "description": "The head as a C2SP signed note (what the signature covers).",
            },
            "cosigned_by": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["witness", "time"],
                    "properties": {"witness": {"type": "string"}, "time": {"type": "integer"}},
                },
            },
        },
    },
}


def openapi_paths() -> dict[str, Any]:
    """The transparency endpoints in the OpenAPI document (``tipline.web.api``)."""
    head = {"$ref": "#/components/schemas/TreeHead"}
    return {
        "/log/checkpoint": {
            "get": {
                "operationId": "getCheckpoint",
                "summary": "The latest signed tree head as a C2SP checkpoint, co-signed",
                "responses": {
                    "200": {
                        "description": "The signed note, with witnesses' signature lines.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "404": _NO_HEAD,
                },
            }
        },
        "/log/heads/latest": {
            "get": {
                "operationId": "getLatestTreeHead",
                "summary": "The latest signed tree head of the audit log",
                "responses": {"200": _json("The head.", head), "404": _NO_HEAD},
            }
        },
        "/log/heads": {
            "get": {
                "operationId": "listTreeHeads",
                "summary": "Published tree heads, newest first",
                "parameters": [
                    _query("before", "Only heads published before the head with this id."),
                    _query("limit", "How many heads.", minimum=1, maximum=MAX_HISTORY),
                ],
                "responses": {
                    "200": _json(
                        "A page of heads.",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["heads", "next_before"],
                            "properties": {
                                "heads": {"type": "array", "items": head},
                                "next_before": {"type": ["integer", "null"]},
                            },
                        },
                    ),
                    "400": _BAD,
                },
            }
        },
        "/log/key": {
            "get": {
                "operationId": "getLogKey",
                "summary": "The public key that signs tree heads, and the witnesses' keys",
                "responses": {
                    "200": _json(
                        "The key.",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "origin",
                                "algorithm",
                                "verifier_key",
                                "public_key",
                                "key_id",
                                "witnesses",
                            ],
                            "properties": {
                                "origin": {"type": "string"},
                                "algorithm": {"const": "Ed25519"},
                                "verifier_key": {
                                    "type": "string",
                                    "description": "C2SP verifier key: name+hash+key.",
                                },
                                "public_key": {"type": "string"},
                                "key_id": {"type": "string"},
                                "witnesses": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    ),
                    "404": _error("The log has no signing key yet."),
                },
            }
        },
        "/log/proof/consistency": {
            "get": {
                "operationId": "getConsistencyProof",
                "summary": "Proof that the tree of `first` leaves is a prefix of `second`'s",
                "parameters": [
                    _query("first", "The older tree size.", required=True),
                    _query("second", "The newer tree size; default the latest head's."),
                ],
                "responses": {
                    "200": _json(
                        "The proof (RFC 9162, 2.1.4).",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["first", "second", "proof"],
                            "properties": {
                                "first": {"type": "integer"},
                                "second": {"type": "integer"},
                                "proof": _PROOF,
                            },
                        },
                    ),
                    "400": _BAD,
                    "404": _NO_HEAD,
                },
            }
        },
        "/log/proof/inclusion": {
            "get": {
                "operationId": "getInclusionProof",
                "summary": "Proof that a leaf is in the tree of `size` leaves",
                "parameters": [
                    _query("index", "The leaf's index (from 0); or give leaf_hash."),
                    {
                        "name": "leaf_hash",
                        "in": "query",
                        "description": "The leaf's hash, instead of its index.",
                        "schema": _HEX_HASH,
                    },
                    _query("size", "The tree size; default the latest head's."),
                ],
                "responses": {
                    "200": _json(
                        "The proof (RFC 9162, 2.1.3).",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["index", "size", "leaf_hash", "proof"],
                            "properties": {
                                "index": {"type": "integer"},
                                "size": {"type": "integer"},
                                "leaf_hash": _HEX_HASH,
                                "proof": _PROOF,
                            },
                        },
                    ),
                    "400": _BAD,
                    "404": _error("No head yet, or no leaf has this hash."),
                },
            }
        },
        "/log/witnesses": {
            "get": {
                "operationId": "getWitnesses",
                "summary": "The witnesses this log knows, and who co-signed the latest head",
                "responses": {
                    "200": _json(
                        "The witnesses.",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["tree_size", "configured", "cosigned_by"],
                            "properties": {
                                "tree_size": {"type": ["integer", "null"]},
                                "configured": {"type": "array", "items": {"type": "string"}},
                                "cosigned_by": SCHEMAS["TreeHead"]["properties"]["cosigned_by"],
                            },
                        },
                    )
                },
            }
        },
        "/log/cosignatures": {
            "post": {
                "operationId": "postCosignature",
                "summary": "A configured witness adds its co-signature to a head",
                "requestBody": {
                    "required": True,
                    "description": "One of the log's heads with the witness's signature line.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "201": _json(
                        "Stored.",
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["accepted"],
                            "properties": {
                                "accepted": {"type": "array", "items": {"type": "string"}}
                            },
                        },
                    ),
                    "200": _json(
                        "Already stored.",
                        {"type": "object", "properties": {"accepted": {"type": "array"}}},
                    ),
                    "400": _error("Not a head of this log co-signed by a configured witness."),
                },
            }
        },
    }
