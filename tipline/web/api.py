"""The public JSON API, version 1, and the OpenAPI 3.1 document that describes it.

Read-only and anonymous. Answers are ``notice_document()``s, so the API shows exactly what the
notice pages show: never the staff-only case number, never anything about tips. Errors are
JSON too, including unknown addresses under ``/api/`` (see ``responses.py``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from tipline import db
from tipline.notices import feeds
from tipline.notices.models import NoticeStatus, Severity
from tipline.web import transparency
from tipline.web.links import document, documents, external_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

API_VERSION = "1.0.0"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATUSES = [s.value for s in feeds.PUBLIC_STATUSES]
_CLASSES = [s.value for s in Severity]


def _optional(enum: Any, value: str | None) -> Any:
    return None if value is None else enum(value)


def _one(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadRequest(f"Give {name} at most once.")
    return values[0] if values else None


def _choice(name: str, allowed: list[str]) -> str | None:
    raw = _one(name)
    if raw is not None and raw not in allowed:
        raise BadRequest(f"{name} must be one of: {', '.join(allowed)}.")
    return raw


def _limit() -> int:
    raw = _one("limit")
    if raw is None:
        return feeds.DEFAULT_PAGE_SIZE
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= feeds.MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be a whole number from 1 to {feeds.MAX_PAGE_SIZE}.")
    return int(raw)


def _text() -> str:
    raw = _one("q") or ""
    if len(raw) > feeds.MAX_QUERY_LENGTH:
        raise BadRequest(f"q must be at most {feeds.MAX_QUERY_LENGTH} characters.")
    return _CONTROL.sub("", raw).strip()


def _cursor() -> feeds.Cursor | None:
    raw = _one("cursor")
    if raw is None:
        return None
    try:
        return feeds.Cursor.decode(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


@bp.get("/notices")
def notices() -> Response:
    filters = feeds.NoticeFilter(
        status=_optional(NoticeStatus, _choice("status", _STATUSES)),
        charge_class=_optional(Severity, _choice("charge_class", _CLASSES)),
        text=_text(),
    )
    limit = _limit()
    session = db.session()
    # One more than asked tells whether there is a next page without counting.
    found = feeds.public_notices(session, filters, after=_cursor(), limit=limit + 1)
    page, more = found[:limit], len(found) > limit
    next_cursor = feeds.cursor_after(page[-1]).encode() if more else None
    next_url = None
    if next_cursor is not None:
        query = {k: v for k, v in request.args.items() if k in _PARAMETER_NAMES}
        next_url = external_url("api.notices", **{**query, "cursor": next_cursor})
    return jsonify(
        {"notices": documents(session, page), "next_cursor": next_cursor, "next": next_url}
    )


@bp.get("/notices/<slug>")
def notice(slug: str) -> Response:
    found = feeds.public_notice(db.session(), slug)
    if found is None:
        abort(404)
    return jsonify(document(db.session(), found))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(current_app.config["AGENCY_NAME"]))


def error_response(code: int, message: str) -> Response:
    response = jsonify({"error": {"status": code, "message": message}})
    response.status_code = code
    return response


_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "status",
        "in": "query",
        "description": "Only notices with this status.",
        "schema": {"type": "string", "enum": _STATUSES},
    },
    {
        "name": "charge_class",
        "in": "query",
        "description": "Only notices with at least one charge of this class.",
        "schema": {"type": "string", "enum": _CLASSES},
    },
    {
        "name": "q",
        "in": "query",
        "description": "Words in the name, an alias, a charge or its citation (any case).",
        "schema": {"type": "string", "maxLength": feeds.MAX_QUERY_LENGTH},
    },
    {
        "name": "limit",
        "in": "query",
        "description": "How many notices per page.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": feeds.MAX_PAGE_SIZE,
            "default": feeds.DEFAULT_PAGE_SIZE,
        },
    },
    {
        "name": "cursor",
        "in": "query",
        "description": "The `next_cursor` of the previous page; omit it for the first page.",
        "schema": {"type": "string", "pattern": feeds.CURSOR_PATTERN},
    },
]
_PARAMETER_NAMES = {p["name"] for p in _PARAMETERS}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document(agency_name: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this API (tests check the answers against it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{agency_name} wanted notices",
            "version": API_VERSION,
            "description": (
                "Public wanted-person notices: who is wanted, on which charges, and whom to "
                "call. Read-only, no key needed. Fields follow the FBI Wanted API where it has "
                "one. Resolved notices stay listed with status `resolved`. Under `/log/`, the "
                "audit log's transparency log (RFC 9162): signed tree heads and proofs, hashes "
                "only, for outside witnesses."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            **transparency.openapi_paths(),
            "/notices": {
                "get": {
                    "operationId": "listNotices",
                    "summary": "Public notices, most recently published first",
                    "parameters": _PARAMETERS,
                    "responses": {
                        "200": {
                            "description": "A page of notices.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/NoticePage"}
                                }
                            },
                        },
                        "400": _error("A parameter could not be read."),
                    },
                }
            },
            "/notices/{slug}": {
                "get": {
                    "operationId": "getNotice",
                    "summary": "One public notice",
                    "parameters": [
                        {
                            "name": "slug",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": feeds.SLUG_PATTERN},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The notice.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Notice"}
                                }
                            },
                        },
                        "404": _error("No public notice has this slug."),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Notice": feeds.NOTICE_SCHEMA,
                **transparency.SCHEMAS,
                "NoticePage": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["notices", "next_cursor", "next"],
                    "properties": {
                        "notices": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Notice"},
                        },
                        "next_cursor": {
                            "type": ["string", "null"],
                            "pattern": feeds.CURSOR_PATTERN,
                            "description": "Pass as `cursor` for the next page; null at the end.",
                        },
                        "next": {
                            "type": ["string", "null"],
                            "format": "uri",
                            "description": "The next page's full URL; null at the end.",
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["status", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
            }
        },
    }
